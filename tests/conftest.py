"""Shared fixtures. Every test gets its own workspace and state; the model cache is shared."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's workspace, keys or SANDBOX_* settings."""
    for key in list(os.environ):
        if key.startswith("SANDBOX_") and key != "SANDBOX_CACHE_DIR":
            monkeypatch.delenv(key)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def workspace_dir(tmp_path) -> Path:
    """An empty workspace folder."""
    path = tmp_path / "ws"
    (path / "corpora").mkdir(parents=True)
    return path


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    """A private copy of the repo's demo workspace (corpora + prompts, no state)."""
    dest = tmp_path / "demo"
    dest.mkdir()
    for name in ("corpora", "prompts"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns(".sandbox"))
    if (REPO / "sandbox.toml").exists():
        shutil.copy(REPO / "sandbox.toml", dest / "sandbox.toml")
    return dest


@pytest.fixture(scope="session")
def local_server(tmp_path_factory):
    """The real local model server over HTTP (SmolLM2 on loopback), one per test session.

    Yields a ``sandbox.server.inprocess.LocalServer`` (from ``sandbox.localserver``): ``.base_url`` (``http://127.0.0.1:PORT/v1``),
    ``.model`` (the LocalModel), ``.app.state.workspace_root`` (its tmp workspace).
    """
    from sandbox.config import load_workspace
    from sandbox.localserver import start_local_server

    root = tmp_path_factory.mktemp("server-ws")
    server = start_local_server(load_workspace(root), preload=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL cluster on a loopback port (tests/postgres.py), one per test session."""
    from postgres import Postgres, pg_bin

    if not pg_bin("initdb"):
        if os.environ.get("CI") == "true":
            pytest.fail("initdb is missing in CI: install it (apt-get install postgresql), see .ci/run")
        pytest.skip("PostgreSQL not installed (apt-get install -y postgresql)")
    with Postgres() as pg:
        yield pg


@pytest.fixture
def pg_url(postgres, monkeypatch) -> str:
    """A fresh database's URL; its password is in $SANDBOX_TEST_PG_PASSWORD (never in the URL)."""
    from postgres import PASSWORD_ENV

    monkeypatch.setenv(PASSWORD_ENV, postgres.password)
    return postgres.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """A fresh Store of each dialect."""
    from sandbox.store import Store

    if request.param == "sqlite":
        store = Store(tmp_path / "s.db")
    else:
        store = Store(request.getfixturevalue("pg_url"), password=request.getfixturevalue("postgres").password)
    yield store
    store.close()
