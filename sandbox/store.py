"""SQLite store: runs, judgments, evaluations. All of the package's SQL lives here.

The schema grows through an append-only list of named migrations recorded in
``_migrations`` (after simonw/llm). Never edit a migration that has shipped; add one.
Records are kept whole as JSON next to the columns analysis filters on.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.records import Judgment, RunRecord, upgrade, utcnow

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_runs(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY, comparison_id TEXT, origin TEXT, dataset TEXT, question_id TEXT,
            pipeline TEXT NOT NULL, model TEXT, error TEXT, latency_s REAL, prompt_tokens INTEGER,
            completion_tokens INTEGER, cost_usd REAL, started_at TEXT, record TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX runs_comparison ON runs(comparison_id)")
    db.execute("CREATE INDEX runs_dataset ON runs(dataset, question_id, pipeline)")


@migration
def m002_judgments(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE judgments (
            id TEXT PRIMARY KEY, comparison_id TEXT NOT NULL, dataset TEXT, question_id TEXT,
            judge TEXT, verdict TEXT, best TEXT, created_at TEXT, record TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX judgments_dataset ON judgments(dataset)")


@migration
def m003_evals(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE evals (
            id TEXT PRIMARY KEY, dataset TEXT NOT NULL, created_at TEXT, status TEXT, config TEXT)"""
    )
    db.execute(
        """CREATE TABLE eval_scores (
            eval_id TEXT NOT NULL REFERENCES evals(id), question_id TEXT NOT NULL, pipeline TEXT NOT NULL,
            run_id TEXT REFERENCES runs(id), metrics TEXT NOT NULL,
            PRIMARY KEY (eval_id, question_id, pipeline))"""
    )


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in order; returns the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT DEFAULT CURRENT_TIMESTAMP)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with db:
            fn(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
        applied.append(name)
    return applied


class Store:
    """One SQLite file in WAL mode; safe to open from several threads (one connection each)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            migrate(db)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        # One connection per thread, kept open: opening one costs ~10 ms (WAL setup, checkpoint on
        # close), more than the write itself. WAL + synchronous=NORMAL stays consistent on a crash.
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield db
        finally:
            if db.in_transaction:  # as closing did: uncommitted work is discarded, locks released
                db.rollback()

    # runs (m001) ---------------------------------------------------------------
    def add_runs(self, runs: Iterable[RunRecord]) -> None:
        rows = [
            (r.id, r.comparison_id, r.origin, r.dataset, r.question_id, r.pipeline, r.model, r.error,
             r.latency_s, r.prompt_tokens, r.completion_tokens, r.cost_usd, r.started_at.isoformat(),
             r.model_dump_json())
            for r in runs
        ]
        with self.connect() as db, db:
            db.executemany(_upsert("runs", RUN_COLUMNS), rows)

    def add_run(self, run: RunRecord) -> None:
        self.add_runs([run])

    def get_run(self, run_id: str) -> RunRecord | None:
        runs = self.runs(id=run_id)
        return runs[0] if runs else None

    def runs(self, **equal: str) -> list[RunRecord]:
        """Runs whose columns equal the given values (e.g. ``comparison_id=...``, ``origin="eval"``), oldest first."""
        where, params = _where(equal, RUN_COLUMNS)
        with self.connect() as db:
            rows = db.execute(f"SELECT record FROM runs{where} ORDER BY started_at", params).fetchall()
        return [upgrade(RunRecord, json.loads(row[0])) for row in rows]

    # judgments (m002) ------------------------------------------------------------
    def add_judgment(self, judgment: Judgment) -> None:
        j = judgment
        with self.connect() as db, db:
            db.execute(
                _upsert("judgments", JUDGMENT_COLUMNS),
                (j.id, j.comparison_id, j.dataset, j.question_id, j.judge, j.verdict, j.best,
                 j.created_at.isoformat(), j.model_dump_json()),
            )

    def judgments(self, dataset: str | None = None) -> list[Judgment]:
        where, params = _where({"dataset": dataset} if dataset else {}, JUDGMENT_COLUMNS)
        with self.connect() as db:
            rows = db.execute(f"SELECT record FROM judgments{where} ORDER BY created_at", params).fetchall()
        return [upgrade(Judgment, json.loads(row[0])) for row in rows]

    def is_judged(self, comparison_id: str) -> bool:
        """Whether any judgment of this comparison is stored (a comparison is judged once)."""
        with self.connect() as db:
            row = db.execute("SELECT 1 FROM judgments WHERE comparison_id = ? LIMIT 1", (comparison_id,)).fetchone()
        return row is not None

    # evals (m003) ----------------------------------------------------------------
    def start_eval(self, eval_id: str, dataset: str, config: dict[str, Any]) -> None:
        """Record an eval as running; an eval already recorded (a resume) is left as it is."""
        with self.connect() as db, db:
            db.execute("INSERT INTO evals (id, dataset, created_at, status, config) VALUES (?,?,?,?,?) "
                       "ON CONFLICT (id) DO NOTHING", (eval_id, dataset, utcnow().isoformat(), "running", json.dumps(config)))

    def set_eval_status(self, eval_id: str, status: str) -> None:
        with self.connect() as db, db:
            db.execute("UPDATE evals SET status = ? WHERE id = ?", (status, eval_id))

    def eval_scores(self, eval_id: str) -> dict[str, dict[str, Any]]:
        """question_id -> {"run_id", "metrics"} of one eval."""
        with self.connect() as db:
            rows = db.execute("SELECT question_id, run_id, metrics FROM eval_scores WHERE eval_id = ?", (eval_id,)).fetchall()
        return {r["question_id"]: {"run_id": r["run_id"], "metrics": json.loads(r["metrics"])} for r in rows}

    def add_scored_runs(self, scored: Iterable[tuple[str, RunRecord, dict[str, Any]]]) -> None:
        """(eval id, run, metrics) triples. Runs first, then their scores: a crash in between leaves
        runs without scores, which a resumed eval redoes."""
        scored = list(scored)
        self.add_runs(run for _, run, _ in scored)
        self.set_eval_scores((eid, r.question_id, r.pipeline, r.id, metrics) for eid, r, metrics in scored)

    def set_eval_scores(self, rows: Iterable[tuple[str, str, str, str | None, dict[str, Any]]]) -> None:
        """(eval id, question id, pipeline, run id, metrics) rows, replacing what was scored before."""
        with self.connect() as db, db:
            db.executemany(_upsert("eval_scores", SCORE_COLUMNS, key=SCORE_COLUMNS[:3]),
                           [(*row[:4], json.dumps(row[4])) for row in rows])


RUN_COLUMNS = ("id", "comparison_id", "origin", "dataset", "question_id", "pipeline", "model", "error", "latency_s",
               "prompt_tokens", "completion_tokens", "cost_usd", "started_at", "record")
JUDGMENT_COLUMNS = ("id", "comparison_id", "dataset", "question_id", "judge", "verdict", "best", "created_at", "record")
SCORE_COLUMNS = ("eval_id", "question_id", "pipeline", "run_id", "metrics")


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...] = ("id",)) -> str:
    """INSERT that replaces the row with the same key (standard ON CONFLICT: SQLite and PostgreSQL)."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")


def _where(equal: dict[str, Any], columns: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    unknown = set(equal) - set(columns)
    if unknown:
        raise ValueError(f"not a column: {', '.join(sorted(unknown))}")
    clause = " AND ".join(f"{c} = ?" for c in equal)
    return (f" WHERE {clause}" if clause else ""), tuple(equal.values())
