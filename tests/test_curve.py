"""Learning curves: nested stratified subsets (a seeded randomized property test), the curve over a
scripted fine-tuning provider (loopback HTTP, the real openai client), resume after a kill, cancel,
the read-outs and the advisor's curve-based data-volume reason, and `sandbox curve --json`."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curvefake import CurveProvider, workspace_toml, write_dataset
from fakes import FakeEmbedder
from sandbox.config import load_workspace
from sandbox.curve import run_curve
from sandbox.curve_records import CurveCancelled, load_curve
from sandbox.curve_readout import read_out
from sandbox.curve_subsets import default_sizes, parse_sizes, stratified_order, stratum
from sandbox.errors import ConfigError
from sandbox.examples import Example
from sandbox.store import open_store
from sandbox.store import curves as curve_store

REPO = Path(__file__).resolve().parent.parent


def _example(label: str, i: int, system: str = "s") -> Example:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": label}]
    return Example(messages=messages, input=f"q{i}", output=label, system=system)


def test_subsets_are_nested_and_keep_every_stratum_share_in_every_prefix():
    """Seeded randomized property test (hypothesis is not installed): 300 random datasets of 1–12 strata."""
    for case in range(300):
        rng = random.Random(case)
        counts = [rng.randint(1, 40) for _ in range(rng.randint(1, 12))]
        examples = [_example(f"label{s}", i) for s, c in enumerate(counts) for i in range(c)]
        rng.shuffle(examples)
        seed = rng.randint(0, 10**6)
        order = stratified_order(examples, seed)
        assert sorted(order) == list(range(len(examples)))  # a permutation: every example once
        assert order == stratified_order(examples, seed)  # seeded: the same order on every run
        share = Counter(stratum(e) for e in examples)
        seen: Counter = Counter()
        for k, i in enumerate(order, start=1):  # every prefix is a subset; nested by construction
            seen[stratum(examples[i])] += 1
            for key, total in share.items():
                assert abs(seen[key] - k * total / len(examples)) < 1.5, (case, k, key)


def test_strata_are_the_task_and_the_answer_shape():
    json_a, json_b = _example('{"a": 1, "b": 2}', 0), _example('{"b": 5, "a": 7}', 1)
    assert stratum(json_a) == stratum(json_b)  # same keys: same shape
    assert stratum(_example('{"a": 1}', 2)) != stratum(json_a)
    assert stratum(_example("yes", 3)) != stratum(_example("no", 4))  # short labels are their own strata
    assert stratum(_example("yes", 3, system="task one")) != stratum(_example("yes", 3, system="task two"))
    assert stratified_order([_example("x", i) for i in range(30)], 1) != stratified_order([_example("x", i) for i in range(30)], 2)


def test_default_sizes_double_from_25_up_to_the_split_and_all():
    assert default_sizes(288) == [25, 50, 100, 200, 288]
    assert default_sizes(67) == [25, 50, 67]
    assert default_sizes(20) == [20]
    assert parse_sizes("100, 25,all,50", 288) == [25, 50, 100, 288]
    for bad, hint in (("5", "at least 10"), ("400", "up to 288"), ("ten", "like")):
        with pytest.raises(ConfigError) as err:
            parse_sizes(bad, 288)
        assert hint in err.value.hint


@pytest.fixture
def provider():
    with CurveProvider() as fake:
        yield fake


@pytest.fixture
def ws(workspace_dir, provider):
    write_dataset(workspace_dir)
    (workspace_dir / "sandbox.toml").write_text(workspace_toml(provider.server.base_url))
    return load_workspace(workspace_dir)


def _curve(ws, **kw):
    return run_curve(ws, "people", endpoint="fake", eval_options={"embedder": FakeEmbedder()}, **kw)


def test_curve_rises_with_size_and_reports_tokens_cost_and_reference_lines(ws, provider):
    seen = []
    curve = _curve(ws, sizes="16,32,all", epochs=2, on_progress=seen.append)
    assert curve.metric == "json_values" and [p.size for p in curve.points] == [16, 32, curve.n_train]
    means = [p.quality.mean for p in curve.points]
    assert means == sorted(means) and means[0] < means[-1]  # more examples, more fields right
    assert all(p.quality.low <= p.quality.mean <= p.quality.high and p.quality.n == 6 for p in curve.points)
    assert [p.trained_tokens for p in curve.points] == [100 * p.size for p in curve.points]
    created = [r for r in provider.server.requests if "training_file" in r]
    assert [r["metadata"]["curve_size"] for r in created] == ["16", "32", str(curve.n_train)]
    assert all("dataset" not in r["metadata"] for r in created)  # never registered as the dataset's model
    assert all(r["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2 for r in created)
    assert set(curve.references) == {"few-shot"} and curve.references["few-shot"].mean == 0.0  # rag: no documents
    assert {p.phase for p in seen} >= {"training", "evaluating", "references", "done"}
    assert [p.point for p in seen if p.phase == "evaluating"][-1] == 3 and seen[-1].points == 3
    assert load_workspace(ws.root).settings.model_for("fine-tuned", "people") == ""  # sandbox.toml untouched
    readout = curve.readout
    assert readout.best_size == curve.n_train and readout.gain.next_size == 2 * curve.n_train

    again = _curve(ws, sizes="16,32,all", epochs=2)  # resumable: nothing trains or answers again
    assert len([r for r in provider.server.requests if "training_file" in r]) == 3
    assert [p.model_dump() for p in again.points] == [p.model_dump() for p in curve.points]
    assert load_curve(ws, "people").id == curve.id


def test_cancel_keeps_finished_points_and_a_rerun_continues(ws, provider):
    stop = {"flag": False}

    def on_progress(p):
        if p.point == 2 and p.phase == "training":
            stop["flag"] = True

    with pytest.raises(CurveCancelled):
        _curve(ws, sizes="16,32", on_progress=on_progress, should_stop=lambda: stop["flag"], references=False)
    store = open_store(ws)
    assert provider.server.jobs[-1]["status"] == "cancelled"
    curve = load_curve(ws, "people")
    assert [p.size for p in curve.points] == [16] and curve.status == "cancelled"
    done = _curve(ws, sizes="16,32", references=False)
    assert [p.size for p in done.points] == [16, 32]
    assert [j["metadata"]["curve_size"] for j in provider.server.jobs] == ["16", "32", "32"]  # the cancelled one again
    assert curve_store.curve(store, done.id)["status"] == "done"


def test_a_killed_curve_resumes_from_the_last_finished_point(workspace_dir):
    """`sandbox curve` is killed (SIGKILL) while the second size trains; the rerun keeps the first point,
    follows the second point's job instead of starting another, and finishes."""
    with CurveProvider(release=1) as fake:
        write_dataset(workspace_dir)
        (workspace_dir / "sandbox.toml").write_text(workspace_toml(fake.server.base_url))
        ws = load_workspace(workspace_dir)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "sandbox", "--workspace", str(workspace_dir), "curve", "people", "--sizes", "16,32",
               "--endpoint", "fake", "--no-references", "--json"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            store = open_store(ws)

            def stored():
                row = curve_store.latest_curve(store, "people")  # the first size is trained and scored...
                return row and [(p["size"], p["status"]) for p in curve_store.points(store, row["id"])]

            _wait(lambda: stored() == [(16, "done"), (32, "training")])  # ... and the second one trains
            curve_id = curve_store.latest_curve(store, "people")["id"]
            assert [(p["size"], p["status"]) for p in curve_store.points(store, curve_id)] == [(16, "done"), (32, "training")]
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        fake.release = None
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        curve = json.loads(result.stdout)
        assert [p["size"] for p in curve["points"]] == [16, 32]
        assert len(fake.server.jobs) == 2  # no size trained twice
        assert curve["points"][1]["job_id"] == fake.server.jobs[1]["id"]


def _wait(predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_cli_curve_json_contract(ws, provider):
    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "curve", "people", "--sizes", "16,all", "--limit", "4",
                                      "--endpoint", "fake", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"id", "dataset", "metric", "points", "references", "readout", "seconds", "n_train"}
    point = data["points"][0]
    assert set(point) >= {"size", "quality", "trained_tokens", "train_seconds", "job_seconds", "eval_seconds", "cost_usd", "model"}
    assert set(point["quality"]) == {"mean", "low", "high", "n"} and point["quality"]["n"] == 4  # --limit 4 questions
    assert data["references"]["few-shot"]["n"] == 4
    bad = CliRunner().invoke(app, ["--workspace", str(ws.root), "curve", "people", "--sizes", "3", "--endpoint", "fake"])
    assert bad.exit_code != 0


def test_readout_smallest_size_within_the_best_and_gain_per_doubling():
    rising = read_out("m", [(25, 0.2, 0.1, 0.3), (50, 0.4, 0.3, 0.5), (100, 0.7, 0.6, 0.8)],
                      [{f"q{i}": 0.4 for i in range(20)}, {f"q{i}": 0.7 + (i % 2) * 0.02 for i in range(20)}])
    assert rising.shape == "rising" and rising.enough_size == 100 and rising.gain.next_size == 200
    assert 0.25 < rising.gain.low <= rising.gain.mean <= rising.gain.high
    assert "Doubling to 200 examples is expected to add +0.31" in " ".join(rising.lines())
    levels = read_out("m", [(25, 0.2, 0.1, 0.3), (50, 0.62, 0.5, 0.7), (100, 0.6, 0.5, 0.7)],
                      [{"a": 0.6, "b": 0.6}, {"a": 0.5, "b": 0.7}])
    assert levels.shape == "levels off" and levels.enough_size == 50 and levels.best_size == 50
    flat = read_out("m", [(25, 0.3, 0.2, 0.4), (50, 0.31, 0.2, 0.4)], [{"a": 0.3, "b": 0.2}, {"a": 0.2, "b": 0.3}])
    assert flat.shape == "flat" and flat.enough_size == 25


def test_advisor_reads_data_volume_from_the_curve_instead_of_thresholds():
    from sandbox.advisor import decide
    from sandbox.signals import DataSignals

    signals = DataSignals(dataset="d", n_examples=30, n_docs=0, format_consistency=1.0, format_fields=4, json_share=1.0)
    without = decide(signals)
    volume = next(r for r in without.reasons if r.rule == "data-volume")
    assert "30 examples < 50" in volume.evidence and without.recommendation == "few-shot"  # waits for 50 examples
    levels = read_out("json_values", [(10, 0.5, 0.4, 0.6), (20, 0.9, 0.85, 0.95), (30, 0.9, 0.85, 0.95)],
                      [{"a": 0.9, "b": 0.9}, {"a": 0.9, "b": 0.9}])
    measured = decide(signals, curve=levels)
    volume = next(r for r in measured.reasons if r.rule == "data-volume")
    assert volume.evidence.startswith("learning curve (json_values, 10→30 examples): levels off: 20 examples")
    assert "50" not in volume.evidence and measured.recommendation == "fine-tuned"  # the curve shows 30 are enough
    rising = read_out("json_values", [(10, 0.2, 0.1, 0.3), (30, 0.6, 0.5, 0.7)],
                      [{"a": 0.2, "b": 0.2, "c": 0.3}, {"a": 0.6, "b": 0.6, "c": 0.7}])
    advice = decide(signals, curve=rising)
    assert "still rising: doubling to 60 examples is expected to add" in next(
        r for r in advice.reasons if r.rule == "data-volume").evidence
    assert any("doubling to 60" in step for step in advice.next_steps)


def test_app_section_shows_the_stored_curve_as_chart_table_and_readouts(ws, provider):
    from sandbox.app.context import AppContext
    from sandbox.app.curve_section import view

    ctx = AppContext.for_workspace(ws)
    assert view(ctx, "people").status.startswith("No learning curve yet")
    _curve(ws, sizes="16,all")
    shown = view(ctx, "people")
    assert shown.figure is not None and not shown.active
    assert [row[0] for row in shown.rows] == ["16", "57", "few-shot (reference)"]  # rag: no documents, no line
    assert "Doubling to 114 examples" in shown.readout


def test_html_report_includes_the_curve_chart_and_readouts(ws, provider, tmp_path):
    from sandbox.report import write_report

    before = write_report(ws, "people", tmp_path / "before.html").read_text()
    assert "<h2>Learning curve</h2>" not in before
    _curve(ws, sizes="16,all")
    html = write_report(ws, "people", tmp_path / "after.html").read_text()
    assert '<h2>Learning curve</h2><img alt="Learning curve" src="data:image/png;base64,' in html
    assert "Doubling to 114 examples" in html
    advice = (tmp_path / "advice.md")
    write_report(ws, "people", advice)
    assert "learning curve (json_values, 16→57 examples)" in advice.read_text()
