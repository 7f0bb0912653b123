"""The local provider's OpenAI-shaped /v1/files and /v1/fine_tuning/jobs, driven by the real
``openai`` client (strict response validation) over HTTP; plus refusals from a fake provider."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

from sandbox.config import load_workspace
from sandbox.errors import FineTuneError

pytestmark = pytest.mark.integration


def examples(n: int) -> bytes:
    rows = [{"messages": [{"role": "user", "content": f"colour {i}"}, {"role": "assistant", "content": f"C{i}"}]} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture
def server(workspace_dir):
    from sandbox.localserver import start_local_server

    srv = start_local_server(load_workspace(workspace_dir), preload=False)
    yield srv
    srv.stop()
    kill_workers(workspace_dir)


def kill_workers(root) -> None:
    """No test leaves a training process behind, whatever happened."""
    from sandbox.finetune.jobs import pid_alive

    for path in (root / ".sandbox/finetune/jobs").glob("*/job.json"):
        job = json.loads(path.read_text())
        if pid_alive(job.get("pid"), job["id"]):
            os.killpg(job["pid"], signal.SIGKILL)


def client_for(srv) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0, _strict_response_validation=True)


def wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_files_upload_list_retrieve_content_delete(server):
    client = client_for(server)
    f = client.files.create(file=("../../etc/My Data!.jsonl", examples(12)), purpose="fine-tune")
    assert f.object == "file" and f.purpose == "fine-tune" and f.bytes == len(examples(12))
    assert f.filename == "My Data_.jsonl"  # sanitised, no path
    assert client.files.retrieve(f.id).id == f.id
    assert [x.id for x in client.files.list(purpose="fine-tune").data] == [f.id]
    assert client.files.content(f.id).read() == examples(12)
    assert client.files.delete(f.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)


def test_invalid_training_file_is_a_400_naming_the_line(server):
    client = client_for(server)
    bad = examples(11) + b'{"messages": [{"role": "user", "content": "no answer"}]}\n'
    f = client.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=f.id)
    assert "line 12" in str(err.value) and "example_missing_assistant_message" in str(err.value)
    small = client.files.create(file=("small.jsonl", examples(3)), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="at least 10"):
        client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=small.id)
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-0123")


def test_cancel_restart_persistence_and_killed_worker(workspace_dir, server):
    from sandbox.localserver import start_local_server

    client = client_for(server)
    f = client.files.create(file=("train.jsonl", examples(12)), purpose="fine-tune")
    first = client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=f.id, suffix="one",
                                           hyperparameters={"n_epochs": 2})
    assert first.status == "running" and first.hyperparameters.n_epochs == 2
    first_pid = json.loads((workspace_dir / ".sandbox/finetune/jobs" / first.id / "job.json").read_text())["pid"]
    second = client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=f.id, suffix="two")
    assert second.status == "queued"  # one worker at a time on a small machine
    assert second.hyperparameters.n_epochs == 3 and second.hyperparameters.batch_size == 8  # "auto" resolved
    cancelled = client.fine_tuning.jobs.cancel(first.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="already cancelled"):  # as OpenAI: a finished job is a 400
        client.fine_tuning.jobs.cancel(first.id)
    # the cancelled worker is reaped by the server, not left a zombie until the server stops
    wait_for(lambda: not os.path.exists(f"/proc/{first_pid}"), 60)
    # the queued job starts once the first is out of the way
    running = wait_for(lambda: (j := client.fine_tuning.jobs.retrieve(second.id)).status == "running" and j)
    events = client.fine_tuning.jobs.list_events(first.id).data
    assert any("cancelled" in e.message for e in events)

    # restart: a new server on the same workspace sees the same files and jobs
    server.stop()
    with start_local_server(load_workspace(workspace_dir), preload=False) as again:
        client2 = client_for(again)
        assert [x.id for x in client2.files.list().data] == [f.id]
        page = client2.fine_tuning.jobs.list(limit=1)
        assert page.has_more and page.data[0].id == second.id
        assert [j.id for j in client2.fine_tuning.jobs.list(after=second.id).data] == [first.id]
        # kill the worker the hard way: the job becomes failed with a reason
        pid = json.loads((workspace_dir / ".sandbox/finetune/jobs" / second.id / "job.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        failed = wait_for(lambda: (j := client2.fine_tuning.jobs.retrieve(second.id)).status == "failed" and j, 20)
        assert failed.error.code == "worker_died" and str(pid) in failed.error.message
        assert client2.fine_tuning.jobs.retrieve(first.id).status == "cancelled"


class _Refuser(BaseHTTPRequestHandler):
    """A provider that takes files but refuses fine-tuning like an account without access."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/files"):
            body, status = {"id": "file-abc", "object": "file", "bytes": 1, "created_at": 1, "filename": "t.jsonl",
                            "purpose": "fine-tune", "status": "processed"}, 200
        else:
            body, status = {"error": {"message": "Fine-tuning is not available for your organization.",
                                      "type": "invalid_request_error", "param": None, "code": "model_not_available"}}, 403
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_refusal_from_provider_is_one_clear_message(demo_copy, monkeypatch):
    from typer.testing import CliRunner

    from sandbox.cli import app

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Refuser)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        ds = demo_copy / "corpora" / "refused"
        ds.mkdir(parents=True)
        (ds / "examples.jsonl").write_bytes(examples(12))
        toml = demo_copy / "sandbox.toml"
        toml.write_text(toml.read_text() + f'\n[endpoints.remote]\nbase_url = "http://127.0.0.1:{httpd.server_port}/v1"\n'
                        'api_key_env = "REMOTE_KEY"\nmodel = "gpt-4o-mini"\nmax_retries = 0\n')
        monkeypatch.setenv("REMOTE_KEY", "sk-test")
        result = CliRunner().invoke(app, ["--workspace", str(demo_copy), "finetune", "refused", "--endpoint", "remote", "--no-wait"])
        assert result.exit_code != 0
        exc = result.exception
        assert isinstance(exc, FineTuneError)
        assert "not available to this account" in exc.message and "403" in exc.message
        assert "--provider local" in exc.hint
    finally:
        httpd.shutdown()


def test_no_wait_queues_for_a_lasting_process_instead_of_a_worker_that_dies_with_the_cli(workspace_dir):
    """`sandbox finetune --all --no-wait` (what `make demo` runs) exits at once; a worker it started would stop
    with it (cancelled before training). So it only queues, and the app's / `sandbox serve`'s watcher starts it."""
    import subprocess
    import sys

    from sandbox.finetune.jobs import LocalJobRunner, cancel, keep_moving, list_jobs

    folder = workspace_dir / "corpora" / "colours"
    folder.mkdir()
    (folder / "examples.jsonl").write_bytes(examples(24))
    (workspace_dir / "sandbox.toml").write_text("[datasets.colours]\nauto_finetune = true\n")
    def cli(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "sandbox", "--workspace", str(workspace_dir), "finetune", *args],
                              capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert done.returncode == 0, done.stderr
        return done

    out = cli("--all", "--no-wait").stdout
    assert "colours: queued" in out and "sandbox app" in out
    assert "queued" in cli("list").stdout  # a look from another short-lived command does not start it either
    state = workspace_dir / ".sandbox"
    (job,) = list_jobs(state, start=False)
    assert job.status == "queued" and job.pid is None  # still waiting, not cancelled with the CLI
    stop = threading.Event()
    try:
        keep_moving(LocalJobRunner(state), every_s=0.2, stop=stop)  # `sandbox serve`'s watcher (the app has its own)
        started = wait_for(lambda: (j := list_jobs(state, start=False)[0]).status == "running" and j)
        assert started.pid
    finally:
        stop.set()
        cancel(state, job.id)
        kill_workers(workspace_dir)
