"""A loopback OpenAI-compatible chat server that answers from a script (for tests and benchmarks).

    with FakeServer([Reply(status=500), Reply("hello", delay=0.2)]) as server:
        AsyncOpenAI(base_url=server.base_url, api_key="x")...

Each request to ``/v1/chat/completions`` takes the next scripted ``Reply`` (the last one repeats),
or ``script`` may be a function ``body -> Reply``. A reply can be delayed, fail with any HTTP
status (500, 429 with Retry-After...), hang until the server stops, or send malformed JSON,
streaming (SSE, with a usage chunk when asked for) or not. ``requests`` keeps every body received.

``jobs`` (fine-tuning job objects, OpenAI's shape) and ``job_events`` (job id -> event objects) are
served on GET /v1/fine_tuning/jobs[/ID[/events]] (POST .../ID/cancel cancels); a test changes them to move a job along.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = "ok"
    delay: float = 0.0  # seconds before the first byte
    status: int = 200
    hang: bool = False  # never answer (until the server stops)
    malformed: bool = False  # a body / SSE event that is not JSON
    usage: bool = True  # report token usage
    chunk_delay: float = 0.0  # seconds between streamed pieces
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""  # the error message of a non-200 reply ("{key}": the bearer token the client sent)

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


Script = list[Reply] | Callable[[dict[str, Any]], Reply]


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # http.server's default of 5 drops connections opened at once (real servers: hundreds)
    daemon_threads = True


class FakeServer:
    def __init__(self, script: Script | Reply | None = None):
        self.script: Script = [script] if isinstance(script, Reply) else (script or [Reply()])
        self.requests: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []
        self.job_events: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if callable(self.script):
                return self.script(body)
            return self.script[min(len(self.requests), len(self.script)) - 1]

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def fake_job(job_id: str, status: str, *, metadata: dict | None = None, fine_tuned_model: str | None = None,
             model: str = "fake-model") -> dict[str, Any]:
    """A fine-tuning job object in OpenAI's shape."""
    return {"id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()), "model": model,
            "status": status, "training_file": "file-1", "validation_file": None, "fine_tuned_model": fine_tuned_model,
            "finished_at": None, "organization_id": "org-fake", "result_files": [], "seed": 42,
            "trained_tokens": None, "error": None, "hyperparameters": {"n_epochs": 3}, "metadata": metadata}


def step_event(step: int, total: int, eta_s: float) -> dict[str, Any]:
    """A training-step metrics event, as the local provider writes them."""
    return {"id": f"ftevent-{step}", "object": "fine_tuning.job.event", "created_at": int(time.time()), "level": "info",
            "message": f"Step {step}/{total}", "type": "metrics",
            "data": {"step": step, "total_steps": total, "epoch": 1, "train_loss": 1.0, "eta_s": eta_s}}


def _chunk(model: str, content: str | None = None, usage: dict | None = None, finish: str | None = None) -> dict:
    choices = [] if usage else [{"index": 0, "delta": {"content": content} if content is not None else {},
                                 "finish_reason": finish}]
    out = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
           "choices": choices}
    if usage:
        out["usage"] = usage
    return out


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(reply.text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _handler(server: FakeServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet tests
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0].rstrip("/")
            if path.endswith("/models"):
                return self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "test"}]})
            if "/fine_tuning/jobs" in path:
                return self._fine_tuning(path.split("/fine_tuning/jobs", 1)[1].strip("/").split("/"))
            self._json(404, {"error": {"message": "not found"}})

        def _fine_tuning(self, parts: list[str]) -> None:
            listing = lambda items: {"object": "list", "data": items, "has_more": False}  # noqa: E731
            if parts == [""]:
                return self._json(200, listing(list(server.jobs)))
            job = next((j for j in server.jobs if j["id"] == parts[0]), None)
            if job is None:
                return self._json(404, {"error": {"message": f"no job {parts[0]}"}})
            if parts[1:] == ["events"]:  # newest first, as OpenAI lists them
                return self._json(200, listing(list(reversed(server.job_events.get(job["id"], [])))))
            self._json(200, job)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            path = self.path.split("?")[0].rstrip("/")
            if path.endswith("/files"):  # uploads are accepted, not kept
                return self._json(200, {"id": f"file-{len(server.requests)}", "object": "file", "bytes": len(raw),
                                        "created_at": int(time.time()), "filename": "upload.jsonl", "purpose": "fine-tune"})
            body = json.loads(raw or b"{}")
            if "/fine_tuning/jobs/" in path and path.endswith("/cancel"):
                job = next((j for j in server.jobs if j["id"] == path.split("/")[-2]), None)
                if job is None:
                    return self._json(404, {"error": {"message": "no such job"}})
                job["status"] = "cancelled"
                return self._json(200, job)
            if path.endswith("/fine_tuning/jobs"):
                server.requests.append(body)
                job = fake_job(f"ftjob-{len(server.jobs) + 1}", "queued", metadata=body.get("metadata"), model=body.get("model", ""))
                server.jobs.append(job)
                return self._json(200, job)
            if not path.endswith("/chat/completions"):
                return self._json(404, {"error": {"message": f"no route {self.path}"}})
            reply = server.next_reply(body)
            if reply.hang:
                server._stop.wait(600)
                return
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                key = (self.headers.get("authorization") or "").removeprefix("Bearer ")
                message = reply.error.replace("{key}", key) or f"scripted status {reply.status}"
                return self._json(reply.status, {"error": {"message": message,
                                                           "type": "server_error"}}, reply.headers)
            if body.get("stream"):
                return self._stream(body, reply)
            if reply.malformed:
                return self._raw(200, b"{not json", "application/json")
            usage = _usage(body, reply) if reply.usage else None
            self._json(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                             "model": body.get("model", ""), "usage": usage,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": reply.text}}]})

        def _stream(self, body: dict[str, Any], reply: Reply) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            model = body.get("model", "")
            events = [_chunk(model, "")] + [_chunk(model, p) for p in reply.pieces() if p] + [_chunk(model, finish="stop")]
            if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
                events.append(_chunk(model, usage=_usage(body, reply)))
            try:
                for i, event in enumerate(events):
                    data = "{broken" if reply.malformed and i == 1 else json.dumps(event)
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)
            self.close_connection = True

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            self._raw(status, json.dumps(data).encode(), "application/json", headers)

        def _raw(self, status: int, payload: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def fake_endpoints_toml(base_url: str) -> str:
    """sandbox.toml lines that send all three pipelines to a fake server at ``base_url``."""
    return f"""
[endpoints.fake]
base_url = "{base_url}"
model = "fake-model"
max_retries = 0
timeout_s = 10
[pipelines.few-shot]
endpoint = "fake"
[pipelines.rag]
endpoint = "fake"
[pipelines.fine-tuned]
endpoint = "fake"
"""
