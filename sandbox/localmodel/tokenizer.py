"""The built-in model's tokenizer, without loading its weights."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from sandbox.config import cache_dir
from sandbox.localmodel import BASE_MODEL_ID, weights


def tokenizer_dir() -> Path:
    """A folder with just the tokenizer: the converted model if present, else a
    tokenizer-only cache extracted from the GGUF (seconds, no weights dequantized)."""
    if weights.is_converted():
        return weights.converted_dir()
    folder = cache_dir() / "tokenizers" / BASE_MODEL_ID
    if not (folder / "tokenizer_config.json").is_file():
        from filelock import FileLock
        from transformers import AutoTokenizer

        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            if not (folder / "tokenizer_config.json").is_file():
                gguf = weights.gguf_path()
                AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)
    return folder


_LOAD_LOCK = threading.Lock()


def load_tokenizer(path: str | None = None):
    with _LOAD_LOCK:  # transformers' lazy module fails "cannot import name" when two threads import it at once
        return _load_tokenizer(path)


@lru_cache(maxsize=2)
def _load_tokenizer(path: str | None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path or str(tokenizer_dir()))
