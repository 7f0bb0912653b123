"""The SQLite store: migrations on a fresh database, WAL, round trips."""

from __future__ import annotations

import sqlite3

import pytest

from sandbox.records import Context, Judgment, RunRecord
from sandbox.store import MIGRATIONS, Store, migrate


def test_migrations_apply_once_in_order(tmp_path):
    db = sqlite3.connect(tmp_path / "x.db")
    assert migrate(db) == [name for name, _ in MIGRATIONS]
    assert migrate(db) == []
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "judgments", "evals", "eval_scores", "_migrations"} <= tables


def test_migration_names_are_unique():
    names = [name for name, _ in MIGRATIONS]
    assert len(names) == len(set(names))


def test_wal_mode(tmp_path):
    store = Store(tmp_path / "s.db")
    with store.connect() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_run_round_trip_keeps_ragas_fields(tmp_path):
    store = Store(tmp_path / "s.db")
    run = RunRecord(
        pipeline="rag", user_input="Q?", response="A [1]", reference="A",
        contexts=[Context(source="a.md", text="chunk", score=0.5)], prompt_tokens=10, completion_tokens=3,
    )
    store.add_run(run)
    back = store.get_run(run.id)
    assert back == run
    dumped = back.model_dump()
    assert dumped["retrieved_contexts"] == ["chunk"]
    assert {"user_input", "response", "reference"} <= dumped.keys()
    assert back.to_result()["contexts"] == [{"source": "a.md", "text": "chunk", "score": 0.5}]


def test_judgment_round_trip_has_no_client_address(tmp_path):
    store = Store(tmp_path / "s.db")
    j = Judgment(comparison_id="c1", dataset="d", run_ids={"rag": "r1"}, shown_order=["rag"], best="rag", judge="ann")
    store.add_judgment(j)
    assert store.judgments("d") == [j]
    assert store.judgments("other") == []
    assert not any("ip" in key.lower() for key in j.model_dump())


def test_runs_filter_by_columns_only(tmp_path):
    store = Store(tmp_path / "s.db")
    a = RunRecord(pipeline="rag", user_input="Q", comparison_id="c1", origin="eval")
    b = RunRecord(pipeline="few-shot", user_input="Q", comparison_id="c2", origin="app")
    store.add_runs([a, b])
    store.add_run(a.model_copy(update={"response": "again"}))  # same id: replaced, not duplicated
    assert [r.response for r in store.runs(comparison_id="c1")] == ["again"]
    assert [r.id for r in store.runs(origin="app")] == [b.id]
    assert len(store.runs()) == 2
    with pytest.raises(ValueError, match="not a column"):
        store.runs(colour="x")


def test_is_judged(tmp_path):
    store = Store(tmp_path / "s.db")
    assert not store.is_judged("c1")
    store.add_judgment(Judgment(comparison_id="c1", dataset="d", judge="ann", verdict="tie", run_ids={}, shown_order=[]))
    assert store.is_judged("c1") and not store.is_judged("c2")


def test_eval_scores_round_trip_and_resume(tmp_path):
    store = Store(tmp_path / "s.db")
    store.start_eval("ev1", "d", {"k": 1})
    store.start_eval("ev1", "d", {"k": 2})  # a resume keeps the first record
    run = RunRecord(pipeline="rag", user_input="Q", question_id="q1", origin="eval")
    store.add_scored_runs([("ev1", run, {"token_f1": 0.5})])
    assert store.get_run(run.id) is not None
    assert store.eval_scores("ev1") == {"q1": {"run_id": run.id, "metrics": {"token_f1": 0.5}}}
    store.set_eval_scores([("ev1", "q1", "rag", run.id, {"token_f1": 0.5, "judge_best": 1.0})])
    assert store.eval_scores("ev1")["q1"]["metrics"]["judge_best"] == 1.0
    store.set_eval_status("ev1", "done")
    with store.connect() as db:
        assert [tuple(r) for r in db.execute("SELECT status, config FROM evals")] == [("done", '{"k": 1}')]
    assert store.eval_scores("other") == {}
