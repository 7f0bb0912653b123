"""The base model's tokenizer and how one chat example becomes training tokens.

An example is rendered with the model's chat template; only the assistant turns are
trained on (``labels`` = -100 elsewhere), which is also how the fine-tuned pipeline
prompts the model: the example's own system message and user input, no few-shot.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

IGNORE = -100


def tokenizer_dir() -> Path:
    """A folder with just the tokenizer: the server's converted model if present, else a
    tokenizer-only cache extracted from the GGUF (seconds, no weights dequantized)."""
    from sandbox.config import cache_dir
    from sandbox.server import weights

    if weights.is_converted():
        return weights.converted_dir()
    folder = cache_dir() / "tokenizers" / weights.BASE_MODEL_ID
    if not (folder / "tokenizer_config.json").is_file():
        from filelock import FileLock
        from transformers import AutoTokenizer

        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            if not (folder / "tokenizer_config.json").is_file():
                gguf = weights.gguf_path()
                AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)
    return folder


@lru_cache(maxsize=2)
def load_tokenizer(path: str | None = None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path or str(tokenizer_dir()))


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
