"""The built-in model as a shared asset: its id, its weights (GGUF converted once to a cached HF folder)
and its tokenizer. Both the server (serving) and fine-tuning (training, export) build on this package;
it imports neither of them."""

import re
import threading
from pathlib import Path

BASE_MODEL_ID = "smollm2-135m-instruct"
# Held around every first import of torch / transformers / sentence-transformers in sandbox. Two threads
# importing them at once (the server loading its model while the CLI loads a tokenizer or the embedder)
# can break a cycle of Python's per-module import locks by handing one of them a half-initialised module:
# "operator debug_mode_ops::annotate does not exist", "cannot import name ...". Re-entrant: loaders nest.
IMPORTING = threading.RLock()


def model_id_for(path: str | Path | None) -> str:
    """The id a local model is served under: the bundled one's, or derived from its file or folder name."""
    if not path:
        return BASE_MODEL_ID
    name = Path(path).name
    stem = name[: -len(".gguf")] if name.lower().endswith(".gguf") else name
    return re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-.") or "local-model"
