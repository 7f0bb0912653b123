"""Few-shot: an instruction plus the k examples most similar to the question.

Examples come from the dataset's examples file, never from its held-out questions: any example
whose input equals or nearly equals a question in questions.jsonl (or the question being asked)
is excluded, so an evaluation cannot be answered by copying. Example embeddings are cached per
file content, so each file version is embedded once per process.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.embeddings import encode_queries
from sandbox.errors import DataError
from sandbox.files import atomic_path
from sandbox.examples import Example, dataset_examples
from sandbox.questions import load_questions
from sandbox.pipelines.base import Pipeline, PreparedChat
from sandbox.records import Context
from sandbox.text import plain

NEAR_DUPLICATE = 0.9  # character-trigram Jaccard similarity that counts as "the same question"


def _trigrams(text: str) -> frozenset[str]:
    norm = plain(text)
    return frozenset(norm[i:i + 3] for i in range(max(1, len(norm) - 2)))


def near_equal(a: frozenset[str], b: frozenset[str]) -> bool:
    return a == b or (len(a & b) / (len(a | b) or 1)) >= NEAR_DUPLICATE


class ExampleBank:
    """The selectable examples of one dataset (held-out questions removed) and their embeddings."""

    def __init__(self, examples: list[Example], held_out: list[str], embedder: Any, vectors: np.ndarray | None = None):
        """``vectors``: embeddings of all ``examples`` if already known (cached on disk)."""
        held = [_trigrams(q) for q in held_out]
        grams = [_trigrams(e.input) for e in examples]
        keep = [i for i, g in enumerate(grams) if not any(near_equal(g, h) for h in held)]
        self.examples = [examples[i] for i in keep]
        self.excluded = len(examples) - len(self.examples)
        self._grams = [grams[i] for i in keep]
        self.embedder = embedder
        if vectors is None:
            vectors = embed_inputs(examples, embedder)
        self.vectors = vectors[keep] if keep else np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 1))

    def select(self, question: str, k: int) -> list[Example]:
        """The k most similar examples, least similar first (the closest sits next to the question)."""
        if k <= 0 or not self.examples:
            return []
        asked = _trigrams(question)
        query = np.asarray(encode_queries(self.embedder, [question]))[0]  # cached: RAG embeds it too
        scores = self.vectors @ query
        for i, grams in enumerate(self._grams):
            if near_equal(grams, asked):
                scores[i] = -np.inf  # the answer itself must not be shown as an example
        order = [i for i in np.argsort(-scores)[:k] if np.isfinite(scores[i])]
        return [self.examples[i] for i in reversed(order)]


def embed_inputs(examples: list[Example], embedder: Any) -> np.ndarray:
    if not examples:
        return np.zeros((0, 1), dtype=np.float32)
    return np.asarray(embedder.encode([e.input for e in examples]), dtype=np.float32)


_BANKS: dict[tuple[str, str, str], ExampleBank] = {}
_BANKS_LOCK = threading.Lock()


def _digest(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else ""


class FewShotPipeline(Pipeline):
    name = "few-shot"
    prompt_name = "few_shot"

    def bank(self) -> ExampleBank:
        examples_path = dataset_examples(self.dataset_dir)
        questions_path = self.dataset_dir / "questions.jsonl"
        embedder = self.resources.embedder()
        name, digest = getattr(embedder, "name", type(embedder).__name__), _digest(examples_path)
        key = (name, digest, _digest(questions_path))
        with _BANKS_LOCK:
            if key not in _BANKS:
                held_out = [q.question for q in load_questions(questions_path)] if questions_path.is_file() else []
                examples = self.examples()
                vectors = self._cached_vectors(examples, embedder, name, digest)
                if len(_BANKS) > 16:
                    _BANKS.clear()
                _BANKS[key] = ExampleBank(examples, held_out, embedder, vectors)
            return _BANKS[key]

    def _cached_vectors(self, examples: list[Example], embedder: Any, name: str, digest: str) -> np.ndarray:
        """Example embeddings kept in .sandbox/cache per embedder and file content: embedding
        hundreds of examples takes seconds, and `sandbox ask` is a fresh process every time."""
        path = self.workspace.state_dir / "cache" / f"examples-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{digest[:24]}.npy"
        if path.is_file():
            vectors = np.load(path)
            if vectors.shape[0] == len(examples):
                return vectors
        vectors = embed_inputs(examples, embedder)
        with atomic_path(path, suffix=".npy") as tmp:  # a concurrent reader never sees half a file
            np.save(tmp, vectors)
        return vectors

    def load(self) -> None:
        if self.examples():
            self.bank()

    def prepare(self, question: str) -> PreparedChat:
        return PreparedChat(messages=self.prompt_messages(question), model=self.model())

    def prompt_messages(self, question: str, contexts: list[Context] | None = None) -> list[dict[str, str]]:
        if not self.examples():
            raise DataError(self.dataset_dir / "examples.jsonl", "no examples to show the model.",
                            "Add input→output examples (chat JSONL, {\"input\",\"output\"} JSONL or examples.csv).")
        chosen = self.bank().select(question, self.config.k)
        pairs = [{"input": e.input, "output": e.output} for e in chosen]
        return self.prompt().render({"instruction": self.instruction(), "question": question}, pairs)
