"""Deterministic stand-ins for tests and benchmarks: a bag-of-words embedder (also as langchain-core
``Embeddings``) and a synchronous compare.

Benchmarks import this file with ``tests/`` on ``sys.path``, as they do ``fakeserver``.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading

import numpy as np
from langchain_core.embeddings import Embeddings

from sandbox import PIPELINES
from sandbox.compare import Done, check_pipelines, stream_compare
from sandbox.config import Workspace
from sandbox.embeddings import QueryCache
from sandbox.records import RunRecord
from sandbox.text import words


class WordTokenizer:
    """Lower-cased word tokens; the fake embedder's stand-in for a real tokenizer."""

    def tokenize(self, text: str) -> list[str]:
        return words(text)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little") for w in self.tokenize(text)]


class FakeEmbedder:
    """Deterministic bag-of-words vectors: each word owns a hash-seeded random direction.

    Texts sharing words point the same way, so nearest-neighbour search behaves
    sensibly in unit tests without loading a model. Same input, same vector, always.
    """

    def __init__(self, dim: int = 64, max_tokens: int = 256):
        self.dim = dim
        self.max_tokens = max_tokens
        self.name = f"fake-bow-{dim}"
        self._tokenizer = WordTokenizer()
        self._cache: dict[str, np.ndarray] = {}
        self.encode_queries = QueryCache(self.encode)

    @property
    def tokenizer(self) -> WordTokenizer:
        return self._tokenizer

    def _word_vector(self, word: str) -> np.ndarray:
        vec = self._cache.get(word)
        if vec is None:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            self._cache[word] = vec
        return vec

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = self._tokenizer.tokenize(text)[: self.max_tokens]
            for word in words:
                out[i] += self._word_vector(word)
            if not words:  # an empty text still needs a valid unit vector
                out[i] = self._word_vector("\x00empty")
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(self._tokenizer.tokenize(t)) for t in texts]


class BagOfWordsEmbeddings(Embeddings):
    """``FakeEmbedder`` as langchain-core ``Embeddings``, for a team's own vector store in tests."""

    def __init__(self, dim: int = 64):
        self.embedder = FakeEmbedder(dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


async def _collect(workspace: Workspace, question: str, **kwargs) -> list[RunRecord]:
    records = [item.record async for item in stream_compare(workspace, question, **kwargs) if isinstance(item, Done)]
    order = {name: i for i, name in enumerate(check_pipelines(kwargs.get("pipelines", PIPELINES)))}
    return sorted(records, key=lambda r: order[r.pipeline])


def compare(workspace: Workspace, question: str, **kwargs) -> list[RunRecord]:
    """Synchronous ``stream_compare``: the records in the requested pipeline order."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_collect(workspace, question, **kwargs))
    # Called from inside an event loop (e.g. an async UI handler): run on a private loop.
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(_collect(workspace, question, **kwargs))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
