"""The SQLite store: migrations on a fresh database, WAL, round trips."""

from __future__ import annotations

import sqlite3

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
