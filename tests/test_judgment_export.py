"""Exports round-trip, and preferences become fine-tuning / pair data (real SQLite store)."""

import json

import pytest

from sandbox.judgment_export import export, read_judgments
from sandbox.records import Judgment, RunRecord
from sandbox.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "s.db")
    runs = {p: RunRecord(pipeline=p, user_input="Q?", response=f"answer from {p}", comparison_id="c1", dataset="d")
            for p in ("few-shot", "rag", "fine-tuned")}
    runs["fine-tuned"].error, runs["fine-tuned"].response = "endpoint down", ""
    store.add_runs(runs.values())
    ids = {p: r.id for p, r in runs.items()}
    store.add_judgment(Judgment(comparison_id="c1", dataset="d", question_id="q1", user_input="Q?", run_ids=ids,
                                shown_order=["rag", "few-shot", "fine-tuned"], verdict="best", best="rag",
                                ranks={"rag": 1, "few-shot": 2, "fine-tuned": 3}, ratings={"rag": 5},
                                tags={"rag": ["correct"], "few-shot": ["incomplete"]}, comment='says "hi", ok', judge="Zoë"))
    store.add_judgment(Judgment(comparison_id="c2", dataset="d", user_input="Q2?", run_ids=ids,
                                shown_order=["few-shot", "rag", "fine-tuned"], verdict="tie", blind=False, judge="bo"))
    return store


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_tables_round_trip(store, tmp_path, fmt):
    result = export(store, fmt, tmp_path / f"out.{fmt}")
    assert result["rows"] == 2
    back = read_judgments(tmp_path / f"out.{fmt}")
    assert [j.model_dump() for j in back] == [j.model_dump() for j in store.judgments()]


def test_training_exports_need_the_workspace(store, tmp_path):
    from sandbox.errors import SandboxError

    with pytest.raises(SandboxError, match="needs the workspace"):
        export(store, "finetune", tmp_path / "ft.jsonl")
    assert not (tmp_path / "ft.jsonl").exists()


def test_unknown_format_and_dataset_filter(store, tmp_path):
    from sandbox.errors import SandboxError

    with pytest.raises(SandboxError, match="Unknown export format"):
        export(store, "xml", tmp_path / "x")
    assert export(store, "jsonl", tmp_path / "none.jsonl", dataset="other")["rows"] == 0


def test_csv_neutralises_spreadsheet_formulas_and_round_trips(tmp_path):
    """Issue #19 row 7: `=cmd|' /C calc'!A0` as a judge name must reach a spreadsheet as text."""
    import csv

    store = Store(tmp_path / "s.db")
    evil = {"judge": "=cmd|' /C calc'!A0", "comment": "+1 @SUM(A1) ", "user_input": "-2+3", "question_id": "@x",
            "dataset": "\tq"}
    store.add_judgment(Judgment(comparison_id="c9", run_ids={}, shown_order=["rag"], best="rag", **evil))
    store.add_judgment(Judgment(comparison_id="c8", run_ids={}, shown_order=["rag"], best="rag", judge="'quoted",
                                comment="\r=2", user_input="plain"))
    export(store, "csv", tmp_path / "j.csv")
    rows = list(csv.DictReader((tmp_path / "j.csv").open(newline="")))
    cells = [v for row in rows for v in row.values() if v]
    assert not [v for v in cells if v[0] in "=+-@\t\r"]
    assert rows[0]["judge"] == "'=cmd|' /C calc'!A0" and rows[1]["judge"] == "''quoted" and rows[1]["user_input"] == "plain"
    assert [j.model_dump() for j in read_judgments(tmp_path / "j.csv")] == [j.model_dump() for j in store.judgments()]


def test_table_schema_is_declared_and_stable_across_different_data(store, tmp_path):
    """#18: ranks/ratings nullable ints, created_at a timestamp, all three pipelines' columns whichever were shown,
    empty strings kept in CSV; pandas and pyarrow read the same dtypes from two exports of different data."""
    import pyarrow.parquet as pq

    from sandbox.judgment_export import COLUMNS
    from sandbox.table_schema import arrow_schema, pandas_dtypes, read_table

    other = Store(tmp_path / "other.db")  # one pipeline shown, no ranks, empty comment and question_id
    other.add_judgment(Judgment(comparison_id="x", run_ids={}, shown_order=["rag"], best="rag", comment=""))
    seen = []
    for name, source in (("a", store), ("b", other)):
        for fmt in ("csv", "parquet"):
            export(source, fmt, tmp_path / f"{name}.{fmt}")
            frame = read_table(tmp_path / f"{name}.{fmt}", COLUMNS)
            seen.append({c: str(t) for c, t in frame.dtypes.items()})
        assert pq.read_schema(tmp_path / f"{name}.parquet").remove_metadata() == arrow_schema(COLUMNS)
    assert seen[0] == pandas_dtypes(COLUMNS)
    assert all(s == seen[0] for s in seen), seen
    assert seen[0]["rank_fine-tuned"] == "Int64" and seen[0]["created_at"] == "datetime64[us, UTC]"
    back = read_table(tmp_path / "b.csv", COLUMNS)
    assert back.loc[0, "comment"] == "" and back.loc[0, "question_id"] == ""  # not NaN
    assert back["rank_rag"].isna().all() and "session_id" in back.columns
    import pandas as pd

    plain = pd.read_csv(tmp_path / "b.csv", keep_default_na=False, dtype=str)  # the documented way without sandbox
    assert plain.loc[0, "comment"] == "" and list(plain.columns) == [c for c, _ in COLUMNS]
