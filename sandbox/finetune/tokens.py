"""How one chat example becomes training tokens (the tokenizer itself: ``sandbox.localmodel.tokenizer``).

An example is rendered with the model's chat template; only the assistant turns are
trained on (``labels`` = -100 elsewhere), which is also how the fine-tuned pipeline
prompts the model: the example's own system message and user input, no few-shot.
"""

from __future__ import annotations

from typing import Any

IGNORE = -100


def encode(tokenizer, messages: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one chat: labels copy the assistant turns (and their end
    token), everything else is ``IGNORE`` so the loss is on assistant tokens only."""
    ids: list[int] = []
    labels: list[int] = []
    for i, message in enumerate(messages):
        before = _render(tokenizer, messages[:i], generation=message["role"] == "assistant")
        upto = _render(tokenizer, messages[: i + 1], generation=False)
        if message["role"] == "assistant":
            # prompt part of this turn ("<|im_start|>assistant\n") is context, not target
            head = before[len(ids):]
            ids += head
            labels += [IGNORE] * len(head)
            body = upto[len(ids):]
            ids += body
            labels += body
        else:
            new = upto[len(ids):]
            ids += new
            labels += [IGNORE] * len(new)
    return ids, labels


def _render(tokenizer, messages: list[dict[str, Any]], generation: bool) -> list[int]:
    if not messages:
        return []
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def count(tokenizer, messages: list[dict[str, Any]]) -> tuple[int, int]:
    """(total tokens, trained assistant tokens) of one example."""
    ids, labels = encode(tokenizer, messages)
    return len(ids), sum(1 for x in labels if x != IGNORE)
