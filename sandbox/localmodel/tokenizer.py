"""A local model's tokenizer (the built-in one's, or a ``[server] model``'s), without loading its weights."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sandbox.config import cache_dir
from sandbox.errors import ConfigError
from sandbox.localmodel import BASE_MODEL_ID, IMPORTING, weights


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


def load_tokenizer(path: str | Path | None = None):
    """The tokenizer of the local model at ``path`` (an HF folder or a .gguf file; None: the bundled model)."""
    if path and not Path(path).exists():
        raise ConfigError(f"The local model {path} does not exist.",
                          "Set [server] model (or sandbox serve --model) to a .gguf file or a Hugging Face model folder.")
    with IMPORTING:  # the first call imports transformers (see sandbox.localmodel.IMPORTING)
        return _load_tokenizer(str(path) if path else None)


@lru_cache(maxsize=4)
def _load_tokenizer(path: str | None):
    from transformers import AutoTokenizer

    if not (path and path.lower().endswith(".gguf")):
        return AutoTokenizer.from_pretrained(path or str(tokenizer_dir()))
    try:  # read from the file's metadata: seconds, no weights converted
        return AutoTokenizer.from_pretrained(Path(path).parent, gguf_file=Path(path).name)
    except (ValueError, KeyError, OSError, RuntimeError, IndexError) as exc:  # what a damaged GGUF raises
        raise ConfigError(f"Could not read the tokenizer of the model file {path}: {type(exc).__name__}: {exc}",
                          "Check that it is a complete .gguf file (download it again), or point [server] model "
                          "at another one.") from exc
