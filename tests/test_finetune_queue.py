"""Automatic fine-tunes: which datasets queue (marked ones only, smallest first), what the
fine-tuned column says meanwhile, and registration when a job succeeds. The fine-tuning API is
a scripted loopback server (tests/fakeserver.py), spoken to by the real openai client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fakeserver import FakeServer, fake_job, step_event
from sandbox.config import load_workspace
from sandbox.finetune import queue


def _dataset(root, name: str, n: int) -> None:
    folder = root / "corpora" / name
    folder.mkdir(parents=True)
    (folder / "examples.jsonl").write_text("".join(
        json.dumps({"input": f"Question number {i} about {name}?", "output": f"Answer {i}."}) + "\n" for i in range(n)))


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def ws(workspace_dir, server):
    _dataset(workspace_dir, "big", 60)
    _dataset(workspace_dir, "small", 20)
    _dataset(workspace_dir, "mine", 36)
    (workspace_dir / "sandbox.toml").write_text(f"""
[endpoints.fake]
base_url = "{server.base_url}"
model = "fake-model"
max_retries = 0
[pipelines.fine-tuned]
endpoint = "fake"
[datasets.big]
auto_finetune = true
[datasets.small]
auto_finetune = true
""")
    return load_workspace(workspace_dir)


def test_marked_datasets_queue_smallest_first_and_never_twice(ws, server):
    assert queue.marked(ws) == ["small", "big"]  # "mine" is not marked: it never trains unasked
    rows = queue.queue_missing(ws)
    assert [(r["dataset"], r["action"]) for r in rows] == [("small", "queued"), ("big", "queued")]
    created = [r for r in server.requests if "training_file" in r]
    assert [r["metadata"] for r in created] == [{"dataset": "small"}, {"dataset": "big"}]
    again = queue.queue_missing(ws)
    assert [r["action"] for r in again] == ["already queued", "already queued"]
    assert len([r for r in server.requests if "training_file" in r]) == 2


def test_column_shows_progress_then_registers_the_model(ws, server):
    server.jobs.append(fake_job("ftjob-7", "running", metadata={"dataset": "small"}))
    server.job_events["ftjob-7"] = [step_event(1, 10, 300.0), step_event(2, 10, 240.0)]
    state = queue.column_state(ws, "small")
    assert (state.status, state.step, state.total_steps, state.ready) == ("running", 2, 10, False)
    assert "step 2 of 10, about 4 min left" in state.text() and not state.can_train
    server.jobs[0].update(status="succeeded", fine_tuned_model="ft:fake-model:small:7")
    state = queue.column_state(ws, "small")
    assert state.ready and ws.settings.model_for("fine-tuned", "small") == "ft:fake-model:small:7"
    assert 'fine_tuned_model = "ft:fake-model:small:7"' in (ws.root / "sandbox.toml").read_text()


def test_unmarked_dataset_says_what_to_do_with_the_preflight_verdict(ws, server):
    state = queue.column_state(ws, "mine")
    assert state.can_train and state.preflight == "36 examples: below the 50 minimum (training works, but expect little)"
    assert "Train now" in state.text() and "sandbox finetune mine" in state.text()
    state = queue.train_now(ws, "mine")
    assert state.status == "queued" and "queued" in state.text()


def test_sync_registers_finished_jobs_and_reports_those_still_training(ws, server):
    server.jobs += [fake_job("ftjob-1", "succeeded", metadata={"dataset": "big"}, fine_tuned_model="ft:big"),
                    fake_job("ftjob-2", "running", metadata={"dataset": "small"})]
    assert queue.sync(ws) == ["small"]
    assert ws.settings.model_for("fine-tuned", "big") == "ft:big"


def test_an_unreachable_endpoint_is_a_message_not_a_crash(ws, server):
    server.stop()
    state = queue.column_state(ws, "small")
    assert not state.ready and "unreachable" in state.error


def test_worker_lowers_its_own_priority():
    out = subprocess.run([sys.executable, "-c", "from sandbox.finetune.worker import lower_priority; print(lower_priority())"],
                         capture_output=True, text=True, check=True)
    assert int(out.stdout) >= 10


def test_cli_finetune_all_queues_the_marked_datasets(ws, server):
    from typer.testing import CliRunner

    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "finetune", "--all", "--no-wait", "--json"])
    assert result.exit_code == 0, result.output
    assert [(r["dataset"], r["action"]) for r in json.loads(result.output)] == [("small", "queued"), ("big", "queued")]


def test_cli_finetune_all_without_marks_says_how_to_mark(workspace_dir):
    from typer.testing import CliRunner

    from sandbox.cli import app

    _dataset(workspace_dir, "mine", 12)
    result = CliRunner().invoke(app, ["--workspace", str(workspace_dir), "finetune", "--all"])
    assert result.exit_code != 0 and "auto_finetune = true" in result.exception.hint
