"""Judgments out of the store: CSV / JSONL / Parquet tables, and training data from preferences.

- ``csv`` / ``parquet``: one row per judgment; nested fields (ranks, ratings, tags, run ids, shown
  order) as JSON text so a row reads back into the same ``Judgment``; plus flat ``rank_<pipeline>``
  and ``rating_<pipeline>`` columns for spreadsheets.
- ``jsonl``: one ``Judgment`` per line, exactly as stored.
- ``finetune``: ``{"messages": [user, assistant]}`` with the preferred answer as the assistant turn.
- ``pairs``: ``{"prompt", "chosen", "rejected"}`` for every preference a judgment implies (DPO-style).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sandbox.judgment_stats import pairwise, winner
from sandbox.errors import SandboxError
from sandbox.files import atomic_path
from sandbox.records import Judgment, RunRecord
from sandbox.store import Store

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


def judgments_frame(judgments: Sequence[Judgment]):
    import pandas as pd

    rows = []
    for j in judgments:
        row = j.model_dump(mode="json")
        for key in NESTED:
            row[key] = json.dumps(row[key], ensure_ascii=False)
        for p in j.shown_order:
            row[f"rank_{p}"] = j.ranks.get(p)
            row[f"rating_{p}"] = j.ratings.get(p)
        rows.append(row)
    columns = list(Judgment.model_fields)
    frame = pd.DataFrame(rows)
    return frame if rows else pd.DataFrame(columns=columns)


def frame_judgments(frame) -> list[Judgment]:
    """Read an exported CSV/Parquet table back into judgments (extra flat columns are ignored)."""
    import pandas as pd

    out = []
    for row in frame.to_dict(orient="records"):
        data = {k: v for k, v in row.items() if k in Judgment.model_fields and not (not isinstance(v, (list, dict)) and pd.isna(v))}
        for key in NESTED:
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
        for key in ("comment", "question_id", "dataset", "user_input", "judge"):
            data[key] = str(data.get(key, ""))
        if not data.get("best"):  # CSV cannot tell None from ""
            data["best"] = None
        out.append(Judgment.model_validate(data))
    return out


def _run(store: Store, cache: dict[str, RunRecord | None], run_id: str | None) -> RunRecord | None:
    if run_id and run_id not in cache:
        cache[run_id] = store.get_run(run_id)
    run = cache.get(run_id) if run_id else None
    return run if run is not None and run.ok and run.response.strip() else None


def finetune_records(store: Store, judgments: Sequence[Judgment]) -> list[dict]:
    """The preferred answer of each judgment as a chat example; skipped when it failed or is gone."""
    cache: dict[str, RunRecord | None] = {}
    out = []
    for j in judgments:
        best = winner(j)
        run = _run(store, cache, j.run_ids.get(best)) if best else None
        if run is not None:
            out.append({"messages": [{"role": "user", "content": run.user_input},
                                     {"role": "assistant", "content": run.response}]})
    return out


def preference_pairs(store: Store, judgments: Sequence[Judgment]) -> list[dict]:
    """Every strict preference (a beat b) with both answers present; ties give no pair."""
    cache: dict[str, RunRecord | None] = {}
    out = []
    for j in judgments:
        for a, b, score in pairwise(j):
            if score == 0.5:
                continue
            chosen, rejected = _run(store, cache, j.run_ids.get(a)), _run(store, cache, j.run_ids.get(b))
            if chosen and rejected:
                out.append({"prompt": chosen.user_input, "chosen": chosen.response, "rejected": rejected.response})
    return out


def _write_jsonl(path: Path, items: Sequence[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def export(store: Store, fmt: str, out: str | Path, dataset: str | None = None) -> dict:
    """Write the judgments (of one dataset, or all) in ``fmt`` to ``out``; returns what was written."""
    if fmt not in FORMATS:
        raise SandboxError(f"Unknown export format {fmt!r}.", f"Use one of: {', '.join(FORMATS)}.")
    judgments = store.judgments(dataset)
    path = Path(out)
    if fmt in ("csv", "parquet"):
        frame = judgments_frame(judgments)
        rows = frame.to_dict(orient="records")
        with atomic_path(path) as tmp:
            if fmt == "csv":
                frame.map(neutralise_cell).to_csv(tmp, index=False, lineterminator="\r\n")  # RFC 4180; quotes a lone \r too
            else:
                frame.to_parquet(tmp, index=False)
    else:
        rows = {"jsonl": lambda: [j.model_dump(mode="json") for j in judgments],
                "finetune": lambda: finetune_records(store, judgments),
                "pairs": lambda: preference_pairs(store, judgments)}[fmt]()
        with atomic_path(path) as tmp:
            _write_jsonl(tmp, rows)
    return {"format": fmt, "path": str(path), "rows": len(rows), "judgments": len(judgments), "dataset": dataset}


def read_judgments(path: str | Path) -> list[Judgment]:
    """Load an exported csv / jsonl / parquet file back into judgments."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".jsonl":
        return [Judgment.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".parquet":
        return frame_judgments(pd.read_parquet(path))
    return frame_judgments(pd.read_csv(path, dtype=str, keep_default_na=False).map(restore_cell))
