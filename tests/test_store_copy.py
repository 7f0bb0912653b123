"""`sandbox store copy`: a demo-like SQLite store into a real PostgreSQL and back; idempotent, resumable, verified."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.records import Judgment, RunRecord
from sandbox.store import Store
from sandbox.store.copy import copy_store, flat_checksum

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent
PIPELINES = ("few-shot", "rag", "fine-tuned")


def fill_like_the_demo(store: Store, per_dataset: int = 12) -> None:
    """The demo's questions, answered by three pipelines, judged (ranks, ratings, tags) and evaluated."""
    rng = random.Random(7)
    for questions in sorted((REPO / "corpora").glob("*/questions.jsonl")):
        dataset = questions.parent.name
        store.start_eval(f"ev-{dataset}", dataset, {"pipelines": list(PIPELINES)})
        for line in questions.read_text(encoding="utf-8").splitlines()[:per_dataset]:
            q = json.loads(line)
            runs = {p: RunRecord(pipeline=p, user_input=q["question"], response=f"{p}: {q['reference'][::-1]}",
                                 dataset=dataset, question_id=q["id"], comparison_id=f"c-{q['id']}", origin="app",
                                 latency_s=rng.random() * 3, prompt_tokens=rng.randrange(900), completion_tokens=40,
                                 cost_usd=rng.random() / 1000, model="m") for p in PIPELINES}
            store.add_runs(runs.values())
            order = rng.sample(PIPELINES, 3)
            store.add_judgment(Judgment(
                comparison_id=f"c-{q['id']}", dataset=dataset, question_id=q["id"], user_input=q["question"],
                run_ids={p: r.id for p, r in runs.items()}, shown_order=order, judge=rng.choice(["ann", "bo"]),
                verdict="best", best=order[0], ranks={p: i + 1 for i, p in enumerate(order)},
                ratings={order[0]: 5}, tags={order[2]: ["incomplete"]}, comment="ünïcødé ✓"))
            evals = [RunRecord(pipeline=p, user_input=q["question"], question_id=q["id"], dataset=dataset, origin="eval")
                     for p in PIPELINES]
            store.add_scored_runs((f"ev-{dataset}", r, {"token_f1": rng.random()}) for r in evals)
        store.set_eval_status(f"ev-{dataset}", "done")


def sandbox(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_round_trip_sqlite_postgresql_sqlite_via_the_cli(tmp_path, pg_url, postgres):
    (tmp_path / "ws").mkdir()
    laptop = Store(tmp_path / "ws" / ".sandbox" / "sandbox.db")
    fill_like_the_demo(laptop)
    env = {"TEAM_PW": postgres.password}

    first = sandbox("store", "copy", "--to", pg_url, "--password-env", "TEAM_PW", "--json", cwd=tmp_path / "ws", env_extra=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["verified"] and postgres.password not in first.stdout + first.stderr
    counts = {t["table"]: t["source_rows"] for t in report["tables"]}
    assert counts == {"runs": 216, "judgments": 36, "judgment_answers": 108, "evals": 3, "eval_scores": 108,
                      "sessions": 0, "judgment_versions": 0, "curves": 0, "curve_points": 0}
    assert all(t["verified_rows"] == t["target_rows"] == t["source_rows"] for t in report["tables"])

    again = json.loads(sandbox("store", "copy", "--to", pg_url, "--password-env", "TEAM_PW", "--json",
                               cwd=tmp_path / "ws", env_extra=env).stdout)
    assert again["tables"] == report["tables"]  # idempotent: nothing added the second time

    back = tmp_path / "back.db"
    home = sandbox("store", "copy", "--from", pg_url, "--to", f"sqlite:///{back}", cwd=tmp_path / "ws",
                   env_extra={**env, "SANDBOX_STORE__PASSWORD_ENV": "TEAM_PW"})
    assert home.returncode == 0, home.stderr
    assert "Verified" in home.stdout and "matches" in home.stdout
    team = Store(pg_url, password=postgres.password)
    assert flat_checksum(laptop) == flat_checksum(team) == flat_checksum(Store(back))
    assert flat_checksum(laptop)[0] == 108
    assert [j.model_dump() for j in Store(back).judgments()] == [j.model_dump() for j in laptop.judgments()]


def test_an_interrupted_copy_resumes(tmp_path, pg_url, postgres, monkeypatch):
    import sandbox.store.copy as store_copy

    monkeypatch.setattr(store_copy, "PAGE", 25)
    laptop = Store(tmp_path / "s.db")
    fill_like_the_demo(laptop, per_dataset=4)
    team = Store(pg_url, password=postgres.password)

    landed = []

    def crash_midway(done: int, total: int) -> None:
        if done >= 50:
            landed.append(done)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_store(laptop, team, progress=crash_midway)
    partial = store_copy.verify(laptop, team)
    # every page reported done landed whole, nothing else did
    assert not partial.verified and sum(t.verified_rows for t in partial.tables) == landed[0]

    seen = []
    report = copy_store(laptop, team, progress=lambda done, total: seen.append((done, total)))
    assert report.verified and seen[-1] == (159, 159)
    assert flat_checksum(laptop) == flat_checksum(team)


def test_copy_refuses_itself_and_a_missing_password(tmp_path):
    (tmp_path / "ws").mkdir()
    result = sandbox("store", "copy", "--to", "postgresql://ann@127.0.0.1:1/x", "--password-env", "NOPE_PW",
                     cwd=tmp_path / "ws")
    assert result.returncode != 0 and "NOPE_PW" in result.stderr
    store = Store(tmp_path / "s.db")
    with pytest.raises(Exception, match="same store"):
        copy_store(store, Store(tmp_path / "s.db"))
