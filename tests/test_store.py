"""The store on both dialects (SQLite file, a real PostgreSQL): migrations, schema, round trips, the flat view."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlalchemy as sa

from sandbox.config import Settings, Workspace
from sandbox.errors import ConfigError, StoreError
from sandbox.records import Context, Judgment, RunRecord
from sandbox.store import MIGRATIONS, Store, mask, migrate, open_store

pytestmark = pytest.mark.integration


def judged(store: Store, dataset: str = "d", **vote) -> Judgment:
    """Three stored runs and a judgment of them."""
    runs = {p: RunRecord(pipeline=p, user_input="Q?", response=f"answer of {p}", dataset=dataset, latency_s=0.25,
                         load_s=1.5, cost_usd=0.001, model="m") for p in ("few-shot", "rag", "fine-tuned")}
    store.add_runs(runs.values())
    vote = {"verdict": "best", "best": "rag", "ranks": {"rag": 1, "few-shot": 2}, "ratings": {"rag": 5},
            "tags": {"few-shot": ["incomplete", "wrong"]}, **vote}
    j = Judgment(comparison_id="c-" + dataset, dataset=dataset, question_id="q1", user_input="Q?", judge="ann",
                 run_ids={p: r.id for p, r in runs.items()}, shown_order=["rag", "fine-tuned", "few-shot"], **vote)
    store.add_judgment(j)
    return j


def test_migrations_apply_once_in_order(any_store):
    assert migrate(any_store.engine) == []
    with any_store.connect() as db:
        names = list(db.scalars(sa.text("SELECT name FROM _migrations ORDER BY name")))
    assert names == [name for name, _ in MIGRATIONS]
    assert {"runs", "judgments", "judgment_answers", "evals", "eval_scores", "_migrations"} <= set(
        sa.inspect(any_store.engine).get_table_names())


def test_migration_names_are_unique_and_ordered():
    names = [name for name, _ in MIGRATIONS]
    assert len(names) == len(set(names)) and names == sorted(names)


def test_one_schema_on_both_dialects(tmp_path, pg_url, postgres):
    def schema(store: Store) -> dict[str, list[str]]:
        inspector = sa.inspect(store.engine)
        names = inspector.get_table_names() + inspector.get_view_names()
        return {t: [c["name"] for c in inspector.get_columns(t)] for t in names}

    lite, pg = Store(tmp_path / "s.db"), Store(pg_url, password=postgres.password)
    assert schema(lite) == schema(pg)
    assert "judgments_flat" in schema(pg)


def test_wal_mode(tmp_path):
    store = Store(tmp_path / "s.db")
    with store.connect() as db:
        assert db.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_run_round_trip_keeps_ragas_fields(any_store):
    run = RunRecord(
        pipeline="rag", user_input="Q?", response="A [1]", reference="A",
        contexts=[Context(source="a.md", text="chunk", score=0.5)], prompt_tokens=10, completion_tokens=3,
    )
    any_store.add_run(run)
    back = any_store.get_run(run.id)
    assert back == run
    dumped = back.model_dump()
    assert dumped["retrieved_contexts"] == ["chunk"]
    assert {"user_input", "response", "reference"} <= dumped.keys()
    assert back.to_result()["contexts"] == [{"source": "a.md", "text": "chunk", "score": 0.5}]


def test_judgment_round_trip_has_no_client_address(any_store):
    j = Judgment(comparison_id="c1", dataset="d", run_ids={"rag": "r1"}, shown_order=["rag"], best="rag", judge="ann")
    any_store.add_judgment(j)
    assert any_store.judgments("d") == [j]
    assert any_store.judgments("other") == []
    assert not any("ip" in key.lower() for key in j.model_dump())


def test_runs_filter_by_columns_only(any_store):
    a = RunRecord(pipeline="rag", user_input="Q", comparison_id="c1", origin="eval")
    b = RunRecord(pipeline="few-shot", user_input="Q", comparison_id="c2", origin="app")
    any_store.add_runs([a, b])
    any_store.add_run(a.model_copy(update={"response": "again"}))  # same id: replaced, not duplicated
    assert [r.response for r in any_store.runs(comparison_id="c1")] == ["again"]
    assert [r.id for r in any_store.runs(origin="app")] == [b.id]
    assert len(any_store.runs()) == 2
    with pytest.raises(ValueError, match="not a column"):
        any_store.runs(colour="x")


def test_is_judged(any_store):
    assert not any_store.is_judged("c1")
    any_store.add_judgment(Judgment(comparison_id="c1", dataset="d", judge="ann", verdict="tie", run_ids={}, shown_order=[]))
    assert any_store.is_judged("c1") and not any_store.is_judged("c2")


def test_eval_scores_round_trip_and_resume(any_store):
    store = any_store
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
        assert [tuple(r) for r in db.execute(sa.text("SELECT status, config FROM evals"))] == [("done", '{"k": 1}')]
    assert store.eval_scores("other") == {}


def test_flat_view_has_one_row_per_judged_answer(any_store):
    j = judged(any_store)
    rows = any_store.flat_judgments()
    assert [(r["pipeline"], r["shown_position"], r["is_best"], r["rank"], r["rating"]) for r in rows] == [
        ("few-shot", 3, 0, 2, None), ("fine-tuned", 2, 0, None, None), ("rag", 1, 1, 1, 5)]
    few = rows[0]
    assert few["judgment_id"] == j.id and few["question"] == "Q?" and few["answer"] == "answer of few-shot"
    assert few["tags"] == "incomplete,wrong" and few["latency_s"] == 0.25 and few["judge"] == "ann"
    assert few["load_s"] == 1.5  # one-time loading beside the latency, never in it
    any_store.add_judgment(j.model_copy(update={"verdict": "tie", "best": None, "shown_order": ["rag"]}))  # replaced
    assert len(any_store.flat_judgments()) == 3 and not any(r["is_best"] for r in any_store.flat_judgments())


def test_concurrent_writes_from_threads_all_land(any_store):
    def cast(n: int) -> None:
        for i in range(10):
            any_store.add_judgment(Judgment(comparison_id=f"c{n}-{i}", dataset="d", judge=f"j{n}", verdict="tie",
                                            run_ids={"rag": "r"}, shown_order=["rag"]))

    threads = [threading.Thread(target=cast, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(any_store.judgments("d")) == 60 and len(any_store.flat_judgments()) == 60


def test_store_made_by_the_pre_sqlalchemy_code_upgrades(tmp_path):
    """The old code's exact DDL and rows; opening it adds the flat view, backfilled, and keeps every record."""
    path = tmp_path / "old.db"
    run = RunRecord(pipeline="rag", user_input="Q?", response="old answer", dataset="d", load_s=2.5)
    j = Judgment(comparison_id="c1", dataset="d", user_input="Q?", run_ids={"rag": run.id}, shown_order=["rag"],
                 best="rag", judge="ann", tags={"rag": ["short"]})
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO runs (id, pipeline, dataset, started_at, record) VALUES (?,?,?,?,?)",
                   (run.id, run.pipeline, run.dataset, run.started_at.isoformat(), run.model_dump_json()))
        db.execute("INSERT INTO judgments (id, comparison_id, dataset, judge, verdict, best, created_at, record) "
                   "VALUES (?,?,?,?,?,?,?,?)", (j.id, j.comparison_id, j.dataset, j.judge, j.verdict, j.best,
                                                j.created_at.isoformat(), j.model_dump_json()))
    store = Store(path)
    assert store.judgments() == [j] and store.get_run(run.id) == run
    [row] = store.flat_judgments()
    assert (row["answer"], row["question"], row["tags"], row["is_best"]) == ("old answer", "Q?", "short", 1)
    assert (row["latency_s"], row["load_s"]) == (None, 2.5)  # load_s backfilled from the record
    assert migrate(store.engine) == []


OLD_SCHEMA = """
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE runs (id TEXT PRIMARY KEY, comparison_id TEXT, origin TEXT, dataset TEXT, question_id TEXT,
    pipeline TEXT NOT NULL, model TEXT, error TEXT, latency_s REAL, prompt_tokens INTEGER,
    completion_tokens INTEGER, cost_usd REAL, started_at TEXT, record TEXT NOT NULL);
CREATE INDEX runs_comparison ON runs(comparison_id);
CREATE INDEX runs_dataset ON runs(dataset, question_id, pipeline);
CREATE TABLE judgments (id TEXT PRIMARY KEY, comparison_id TEXT NOT NULL, dataset TEXT, question_id TEXT,
    judge TEXT, verdict TEXT, best TEXT, created_at TEXT, record TEXT NOT NULL);
CREATE INDEX judgments_dataset ON judgments(dataset);
CREATE TABLE evals (id TEXT PRIMARY KEY, dataset TEXT NOT NULL, created_at TEXT, status TEXT, config TEXT);
CREATE TABLE eval_scores (eval_id TEXT NOT NULL REFERENCES evals(id), question_id TEXT NOT NULL,
    pipeline TEXT NOT NULL, run_id TEXT REFERENCES runs(id), metrics TEXT NOT NULL,
    PRIMARY KEY (eval_id, question_id, pipeline));
INSERT INTO _migrations (name) VALUES ('m001_runs'), ('m002_judgments'), ('m003_evals');
"""


# ---------------------------------------------------------------- [store] url and secrets


def workspace_with(tmp_path, **store) -> Workspace:
    return Workspace(tmp_path, Settings.model_validate({"store": store}))


def test_default_and_relative_sqlite_urls(tmp_path):
    assert open_store(workspace_with(tmp_path)).path == tmp_path / ".sandbox" / "sandbox.db"
    assert open_store(workspace_with(tmp_path, url="sqlite:///team/s.db")).path == tmp_path / "team" / "s.db"


@pytest.mark.parametrize("url, match", [
    ("postgresql://ann:hunter2@db:5432/x", "contains a password"),
    ("mysql://ann@db/x", "only sqlite and postgresql"),
    ("team.db", "not a database URL"),
])
def test_bad_urls_say_how_to_fix_and_never_echo_a_password(tmp_path, url, match):
    with pytest.raises(ConfigError, match=match) as err:
        open_store(workspace_with(tmp_path, url=url))
    assert "hunter2" not in str(err.value) and "Fix:" in str(err.value)


def test_password_comes_from_the_named_variable(tmp_path, postgres, monkeypatch):
    ws = workspace_with(tmp_path, url=postgres.url(), password_env="TEAM_DB_PASSWORD")
    with pytest.raises(ConfigError, match="TEAM_DB_PASSWORD"):
        open_store(ws)
    monkeypatch.setenv("TEAM_DB_PASSWORD", "wrong-" + postgres.password)
    with pytest.raises(StoreError) as err:
        open_store(ws)
    assert "wrong-" not in str(err.value) and "password_env" in str(err.value)
    monkeypatch.setenv("TEAM_DB_PASSWORD", postgres.password)
    assert open_store(ws).dialect == "postgresql"


def test_unreachable_server_is_a_friendly_error(tmp_path):
    from postgres import free_port

    with pytest.raises(StoreError, match=r"Cannot open the store at postgresql://ann:\*\*\*@127.0.0.1") as err:
        Store(f"postgresql://ann@127.0.0.1:{free_port()}/x", password="s3cret")
    assert "s3cret" not in str(err.value) and "Connection refused" in str(err.value)


def test_mask_hides_passwords():
    assert mask("postgresql://ann:s3cret@db/x") == "postgresql://ann:***@db/x"


def test_the_readme_analyst_examples_run_on_both_dialects(any_store):
    import pandas as pd

    judged(any_store, "d1")
    judged(any_store, "d2", verdict="all-bad", best=None)
    sql = ("SELECT dataset, pipeline, COUNT(*) AS judged, AVG(is_best) AS win_rate, AVG(rating) AS mean_rating "
           "FROM judgments_flat WHERE verdict <> 'all-bad' GROUP BY dataset, pipeline ORDER BY dataset, win_rate DESC")
    with any_store.connect() as db:
        rows = [tuple(r) for r in db.execute(sa.text(sql))]
    got = [(d, p, n, float(w), r and float(r)) for d, p, n, w, r in rows]
    assert got[0] == ("d1", "rag", 1, 1.0, 5.0)  # the all-bad judgment of d2 is left out
    assert sorted(got[1:]) == [("d1", "few-shot", 1, 0.0, None), ("d1", "fine-tuned", 1, 0.0, None)]
    flat = pd.read_sql("SELECT * FROM judgments_flat", any_store.engine, parse_dates=["created_at"])
    table = flat.pivot_table(index="judge", columns="pipeline", values="is_best", aggfunc="mean")
    assert len(flat) == 6 and table.loc["ann", "rag"] == 0.5
