"""A deterministic train/validation split that every later run reuses.

Each example is assigned by a hash of its content, so the split does not depend on file
order and appending examples never moves old ones. Assignments are stored in
``.sandbox/finetune/splits/<name>.json``; stored assignments always win, so changing the
validation fraction later only affects new examples.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel

from sandbox.examples import Example
from sandbox.files import atomic_write_text

VALIDATION_FRACTION = 0.1
MIN_FOR_VALIDATION = 10  # below this every example is needed for training


class Split(BaseModel):
    train: list[Example]
    validation: list[Example]
    path: str = ""


def example_key(example: Example) -> str:
    canon = json.dumps(example.messages, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _bucket(key: str) -> float:
    return int(key[:8], 16) / 0xFFFFFFFF


def split_examples(examples: list[Example], store: Path | None = None,
                   fraction: float = VALIDATION_FRACTION) -> Split:
    """Split ``examples``; with ``store``, read and extend the saved assignments there."""
    saved: dict[str, str] = {}
    if store and store.is_file():
        saved = json.loads(store.read_text(encoding="utf-8")).get("assignments", {})
    keys = [example_key(e) for e in examples]
    assign = {}
    for key in keys:
        if key in saved:
            assign[key] = saved[key]
        elif len(examples) < MIN_FOR_VALIDATION:
            assign[key] = "train"
        else:
            assign[key] = "validation" if _bucket(key) < fraction else "train"
    if len(examples) >= MIN_FOR_VALIDATION and "validation" not in assign.values():
        # tiny sets can miss the hash bucket: hold out the lowest-hash example (stable too)
        assign[min(assign, key=_bucket)] = "validation"
    if store:
        merged = {**saved, **assign}
        atomic_write_text(store, json.dumps({"fraction": fraction, "assignments": merged}, indent=0))
    train = [e for e, k in zip(examples, keys) if assign[k] == "train"]
    validation = [e for e, k in zip(examples, keys) if assign[k] == "validation"]
    return Split(train=train, validation=validation, path=str(store or ""))


def split_store(state_dir: Path, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return state_dir / "finetune" / "splits" / f"{safe}.json"


def to_jsonl(examples: list[Example]) -> bytes:
    return "".join(json.dumps({"messages": e.messages}, ensure_ascii=False) + "\n" for e in examples).encode()
