"""Fine-tuned LoRA adapters of a workspace: ``.sandbox/finetune/models/<dir>/`` with PEFT files + model.json.

``model.json`` is ``{"id": "ft:smollm2-135m-instruct:<suffix>:<job>", "created": <unix>, "base": "..."}``.
Folders without a readable model.json or adapter files are skipped (a fine-tune still being written).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ADAPTER_FILES = ("adapter_config.json",)


@dataclass(frozen=True)
class Adapter:
    id: str
    created: int
    base: str
    path: Path

    @property
    def peft_name(self) -> str:
        """A name PEFT accepts as a module key (no dots), unique per model id."""
        return "ft_" + re.sub(r"[^0-9A-Za-z_]", "_", self.id)


def models_dir(workspace_root: Path) -> Path:
    return Path(workspace_root) / ".sandbox" / "finetune" / "models"


def scan(workspace_root: Path) -> dict[str, Adapter]:
    """Adapters found on disk now, by model id."""
    found: dict[str, Adapter] = {}
    folder = models_dir(workspace_root)
    if not folder.is_dir():
        return found
    for sub in sorted(folder.iterdir()):
        adapter = _read(sub)
        if adapter is not None:
            found[adapter.id] = adapter
    return found


def _read(folder: Path) -> Adapter | None:
    meta = folder / "model.json"
    if not meta.is_file() or not all((folder / name).is_file() for name in ADAPTER_FILES):
        return None
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        return Adapter(id=str(data["id"]), created=int(data.get("created", 0)), base=str(data.get("base", "")), path=folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None
