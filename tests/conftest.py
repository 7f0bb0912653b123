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
