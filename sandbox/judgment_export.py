"""Judgments out of the store: CSV / JSONL / Parquet tables, and training data from preferences.

- ``csv`` / ``parquet``: one row per judgment in the declared ``COLUMNS`` (``sandbox.table_schema``: the
  same columns and types in every export); nested fields (ranks, ratings, tags, run ids, shown order) as
  JSON text so a row reads back into the same ``Judgment``; plus flat nullable-int ``rank_<pipeline>`` and
  ``rating_<pipeline>`` columns for all three pipelines, for spreadsheets.
- ``jsonl``: one ``Judgment`` per line, exactly as stored.
- ``finetune`` / ``pairs``: training data on the prompt a pipeline serves (``sandbox.training_export``).
"""

from __future__ import annotations

import json
from datetime import datetime
from collections.abc import Sequence
from pathlib import Path

from sandbox import PIPELINES
from sandbox.config import Workspace
from sandbox.errors import SandboxError
from sandbox.files import atomic_path
from sandbox.records import Judgment
from sandbox.store import Store
from sandbox.table_schema import Kind, read_table, write_table
from sandbox.training_export import DEFAULT_AS_PROMPT, training_rows

FORMATS = ("csv", "jsonl", "parquet", "finetune", "pairs")
NESTED = ("run_ids", "shown_order", "ranks", "ratings", "tags")
SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet", "finetune": ".finetune.jsonl", "pairs": ".pairs.jsonl"}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def neutralise_cell(value):
    """CSV cells that a spreadsheet would evaluate get a leading ``'`` (shown as text); so does a leading ``'``
    itself, which keeps the escape reversible (``restore_cell``)."""
    if isinstance(value, str) and value.startswith((*FORMULA_START, "'")):
        return "'" + value
    return value


def restore_cell(value):
    return value[1:] if isinstance(value, str) and value.startswith("'") else value


def _kind(name: str) -> Kind:
    annotation = Judgment.model_fields[name].annotation
    if name in NESTED or annotation not in (int, bool, datetime):
        return "string"
    return {int: "int", bool: "bool", datetime: "timestamp"}[annotation]


# One column per Judgment field (nested ones as JSON text), session_id whether or not judgments carry one yet,
# then fixed flat rank/rating columns for the three pipelines, whichever were shown.
COLUMNS: list[tuple[str, Kind]] = (
    [(name, _kind(name)) for name in Judgment.model_fields]
    + ([] if "session_id" in Judgment.model_fields else [("session_id", "string")])
    + [(f"{what}_{p}", "int") for what in ("rank", "rating") for p in PIPELINES])


def judgment_rows(judgments: Sequence[Judgment]) -> list[dict]:
    rows = []
    for j in judgments:
        row = j.model_dump(mode="json")
        for key in NESTED:
            row[key] = json.dumps(row[key], ensure_ascii=False)
        for p in PIPELINES:
            row[f"rank_{p}"], row[f"rating_{p}"] = j.ranks.get(p), j.ratings.get(p)
        rows.append(row)
    return rows


def frame_judgments(frame) -> list[Judgment]:
    """Read an exported CSV/Parquet table back into judgments (the flat columns are ignored)."""
    import pandas as pd

    out = []
    for row in frame.to_dict(orient="records"):
        data = {k: v for k, v in row.items() if k in Judgment.model_fields and not (not isinstance(v, (list, dict)) and pd.isna(v))}
        for key in NESTED:
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
        if not data.get("best"):  # CSV cannot tell None from ""
            data["best"] = None
        out.append(Judgment.model_validate(data))
    return out


def _write_jsonl(path: Path, items: Sequence[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def export(store: Store, fmt: str, out: str | Path, dataset: str | None = None, *, workspace: Workspace | None = None,
           as_prompt: str = DEFAULT_AS_PROMPT, session_id: str | None = None) -> dict:
    """Write the judgments (of one dataset or judging session, or all) in ``fmt`` to ``out``; returns what was
    written. Every row carries its ``session_id`` ('' for ad-hoc comparisons). ``finetune`` and ``pairs``
    need the ``workspace`` (its prompts and examples build the served prompt)."""
    if fmt not in FORMATS:
        raise SandboxError(f"Unknown export format {fmt!r}.", f"Use one of: {', '.join(FORMATS)}.")
    judgments = store.judgments(dataset, session_id)
    path = Path(out)
    skipped = 0
    if fmt in ("csv", "parquet"):
        rows = judgment_rows(judgments)
        with atomic_path(path) as tmp:
            write_table(rows, COLUMNS, fmt, tmp, cell=neutralise_cell)
    else:
        if fmt == "jsonl":
            rows = [j.model_dump(mode="json") for j in judgments]
        elif workspace is None:
            raise SandboxError(f"The {fmt} export needs the workspace.", "Run it inside a sandbox workspace.")
        else:
            rows, skipped = training_rows(workspace, store, fmt, judgments, as_prompt)
        with atomic_path(path) as tmp:
            _write_jsonl(tmp, rows)
    result = {"format": fmt, "path": str(path), "rows": len(rows), "judgments": len(judgments), "dataset": dataset,
              "session_id": session_id}
    if fmt in ("finetune", "pairs"):
        result |= {"as_prompt": as_prompt, "skipped": skipped}
    return result


def read_judgments(path: str | Path) -> list[Judgment]:
    """Load an exported csv / jsonl / parquet file back into judgments."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return [Judgment.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return frame_judgments(read_table(path, COLUMNS, cell=restore_cell))
