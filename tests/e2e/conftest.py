"""A running app (real Gradio server, real pipelines, real Chroma and SQLite) whose model is a
scripted loopback OpenAI server, so no model is needed. Browser tests need /usr/bin/chromium."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakeserver.py

from fakeserver import FakeServer, Reply, fake_endpoints_toml  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def make_workspace(root: Path, base_url: str, doc_text: str = "The pump runs at 42 rpm.") -> Path:
    data = root / "corpora" / "plant"
    (data / "docs").mkdir(parents=True)
    (data / "docs" / "pump.md").write_text(f"# Pump\n\n{doc_text}\n", encoding="utf-8")
    (data / "examples.jsonl").write_text("".join(json.dumps({"input": q, "output": a}) + "\n" for q, a in
                                                 [("Speed of the fan?", "12 rpm"), ("Colour of the tank?", "Blue")]))
    (data / "questions.jsonl").write_text(json.dumps({"id": "q1", "question": "How fast does the pump run?",
                                                      "reference": "42 rpm", "tags": ["facts"]}) + "\n")
    (root / "sandbox.toml").write_text(fake_endpoints_toml(base_url) + 'model = "ft:fake-model"\n', encoding="utf-8")
    return root


def start_app(root: Path, auth=None):
    """Index with a deterministic embedder, build the app with it, launch on a free loopback port
    (``auth``: a list of (user, password) logins, as `sandbox app --auth-file` passes them)."""
    from sandbox.app import build_app
    from sandbox.compare import stream_compare
    from sandbox.config import load_workspace
    from fakes import FakeEmbedder
    from sandbox.index import build_index
    from sandbox.pipelines.base import Resources

    ws = load_workspace(root)
    embedder = FakeEmbedder()
    build_index(ws, "plant", embedder=embedder)
    demo = build_app(ws, stream_compare=functools.partial(stream_compare, resources=Resources(ws, embedder=embedder)),
                     build_index=functools.partial(build_index, embedder=embedder))
    demo.queue(default_concurrency_limit=8)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True,
                            share=False, ssr_mode=False, auth=auth)
    return demo, url, ws


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running_app(tmp_path):
    """Yields (url, workspace, fake server); answers stream word by word."""
    with FakeServer(Reply("The pump runs at 42 rpm", chunk_delay=0.02)) as server:
        demo, url, ws = start_app(make_workspace(tmp_path / "ws", server.base_url))
        try:
            yield url, ws, server
        finally:
            demo.close()


@pytest.fixture
def xss_app(tmp_path):
    payload = "<img src=x onerror=alert(1)> <script>alert(2)</script>"
    with FakeServer(Reply(payload)) as server:
        demo, url, ws = start_app(make_workspace(tmp_path / "ws", server.base_url, doc_text=payload))
        try:
            yield url, ws, payload
        finally:
            demo.close()


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: install it (apt-get install chromium), see .ci/run")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y --no-install-recommends chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def app_factory(tmp_path):
    """make(reply=..., prepare=None, auth=None) -> (url, workspace, fake server): like running_app, but
    ``prepare(root)`` may add datasets or edit files before the app starts, and ``auth`` requires logins;
    every app and server made is closed at the end."""
    import contextlib

    with contextlib.ExitStack() as stack:
        def make(reply: Reply | None = None, prepare=None, auth=None):
            server = stack.enter_context(FakeServer(reply or Reply("The pump runs at 42 rpm")))
            root = make_workspace(tmp_path / f"ws-{id(server)}", server.base_url)
            if prepare is not None:
                prepare(root)
            demo, url, ws = start_app(root, auth)
            stack.callback(demo.close)
            return url, ws, server

        yield make


@pytest.fixture
def make_session():
    """make(workspace, **create_session kwargs) -> a judging session whose answers the app's pipelines gave
    (deterministic embedder, the workspace's scripted server)."""
    from fakes import FakeEmbedder
    from sandbox.compare import stream_compare
    from sandbox.pipelines.base import Resources
    from sandbox.sessions import create_session
    from sandbox.store import Store

    def make(ws, **kwargs):
        stream = functools.partial(stream_compare, resources=Resources(ws, embedder=FakeEmbedder()))
        return create_session(ws, "plant", store=Store(ws.db_path), stream_compare=stream, **kwargs)

    return make


@pytest.fixture(scope="session")
def workspace_maker():
    """``make_workspace(root, base_url)`` for tests that start the app in their own way (e.g. as processes)."""
    return make_workspace
