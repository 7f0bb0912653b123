"""The token-by-token decode loop: sampling with a per-request seed, stop strings, cancellation.

Hand-written rather than ``model.generate``, for control rather than speed (it runs at about
generate's pace, 1.04x in benchmarks/RESULTS.md): exactly what is streamed, where a stop string cuts,
and when to give up because the client went away.
"""

from __future__ import annotations

import random
from typing import Callable, Optional

from sandbox.server.schemas import ChatParams, Completion


class TextStream:
    """Turns generated tokens into safe-to-send text deltas, cutting at the first stop string.

    Text that might be the start of a stop string, or half of a multi-byte character, is held
    back until the next token decides it.
    """

    def __init__(self, tokenizer, stops: list[str]):
        self.tokenizer = tokenizer
        self.stops = stops
        self.tokens: list[int] = []
        self.sent = 0
        self.text = ""

    def push(self, token: int) -> tuple[str, bool]:
        """Add a token; returns (text to send now, whether a stop string was hit)."""
        self.tokens.append(token)
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.text = text[:cut]
            return self._advance(cut), True
        self.text = text
        end = len(text) - (1 if text.endswith("\ufffd") else 0)
        end -= self._held(text[:end])
        return self._advance(end), False

    def flush(self) -> str:
        return self._advance(len(self.text))

    def _held(self, text: str) -> int:
        """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
        best = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:k]):
                    best = k
                    break
        return best

    def _advance(self, end: int) -> str:
        if end <= self.sent:
            return ""
        delta, self.sent = self.text[self.sent:end], end
        return delta


def pick(logits, params: ChatParams, generator) -> int:
    """Greedy at temperature 0, else temperature + nucleus (top_p) sampling from ``generator``."""
    import torch

    if params.temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p  # always keeps the top token
        sorted_probs = sorted_probs * keep
        return int(order[torch.multinomial(sorted_probs, 1, generator=generator)])
    return int(torch.multinomial(probs, 1, generator=generator))


class Sequence:
    """One request's decoding state: its sampler (own seed), its text stream, its limits and callbacks.

    The same object serves the one-request loop below and the batched scheduler (``batching.py``):
    ``accept`` takes this request's logits for the next position, whoever computed them.
    """

    def __init__(self, prompt_ids: list[int], params: ChatParams, max_new_tokens: int, tokenizer, eos_ids: set[int],
                 on_text: Callable[[str], None] = lambda _: None, cancelled: Callable[[], bool] = lambda: False,
                 adapter: Optional[str] = None):
        import torch

        self.prompt_ids, self.params, self.max_new_tokens = prompt_ids, params, max_new_tokens
        self.eos_ids, self.on_text, self.cancelled, self.adapter = eos_ids, on_text, cancelled, adapter
        seed = params.seed if params.seed is not None else random.getrandbits(63)
        self.generator = torch.Generator().manual_seed(seed)
        self.stream = TextStream(tokenizer, params.stop)
        self.produced = 0
        self.last_token: Optional[int] = None
        self.finish: Optional[str] = None

    def accept(self, logits) -> bool:
        """Pick the next token from ``logits`` and stream it; returns whether the request goes on."""
        token = pick(logits, self.params, self.generator)
        if token in self.eos_ids:
            return self._end("stop")
        self.produced += 1
        self.last_token = token
        delta, hit = self.stream.push(token)
        if delta:
            self.on_text(delta)
        if hit:
            return self._end("stop")
        if self.produced >= self.max_new_tokens:
            return self._end("length")
        return True

    def check_cancelled(self) -> bool:
        if self.finish is None and self.cancelled():
            self.finish = "cancelled"
        return self.finish == "cancelled"

    def _end(self, reason: str) -> bool:
        self.finish = reason
        if rest := self.stream.flush():
            self.on_text(rest)
        return False

    def completion(self) -> Completion:
        return Completion(text=self.stream.text, prompt_tokens=len(self.prompt_ids),
                          completion_tokens=self.produced, finish_reason=self.finish or "cancelled")


def decode(model, seq: Sequence) -> Completion:
    """Generate for one request alone, token by token (the server batches through ``batching.Batcher``)."""
    import torch

    with torch.inference_mode():
        out = model(input_ids=torch.tensor([seq.prompt_ids]), use_cache=True, logits_to_keep=1)
        while not seq.check_cancelled() and seq.accept(out.logits[0, -1]):
            out = model(input_ids=torch.tensor([[seq.last_token]]), cache=out.cache, use_cache=True)
    return seq.completion()
