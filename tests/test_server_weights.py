"""Conversion cache: atomic, converted once even when several processes/threads race; in-process helpers."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox.localmodel import weights


def test_concurrent_conversions_convert_once_and_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def fake_convert(gguf, out):
        calls.append(out)
        (out / "model.safetensors").write_text("partial")
        time.sleep(0.3)  # a reader must never see this half-written folder as converted
        assert not weights.is_converted()
        (out / weights.MARKER).write_text("{}")

    monkeypatch.setattr(weights, "_convert", fake_convert)
    monkeypatch.setattr(weights, "gguf_path", lambda: tmp_path / "x.gguf")
    results = []
    threads = [threading.Thread(target=lambda: results.append(weights.ensure_converted())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert results == [weights.converted_dir()] * 3 and weights.is_converted()
    leftovers = [p.name for p in weights.converted_dir().parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_CACHE_DIR", str(tmp_path / "cache"))

    def broken(gguf, out):
        (out / "model.safetensors").write_text("partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(weights, "_convert", broken)
    monkeypatch.setattr(weights, "gguf_path", lambda: tmp_path / "x.gguf")
    with pytest.raises(RuntimeError):
        weights.ensure_converted()
    assert not weights.converted_dir().exists()
    assert [p for p in weights.converted_dir().parent.iterdir() if p.is_dir()] == []


def test_gguf_is_found_in_the_installed_package():
    path = weights.gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_local_base_url_prefers_env(monkeypatch, tmp_path):
    from sandbox.localserver import local_base_url

    monkeypatch.setenv("SANDBOX_LOCAL_BASE_URL", "http://127.0.0.1:9999/v1/")
    assert local_base_url(tmp_path) == "http://127.0.0.1:9999/v1"


def test_in_process_server_starts_and_stops(tmp_path):
    import httpx

    from tests.test_server_api import FakeGenerator
    from sandbox.localserver import start_local_server

    with start_local_server(tmp_path, generator=FakeGenerator()) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(server.base_url + "/models").json()["data"][0]["id"] == "smollm2-135m-instruct"
    with pytest.raises(httpx.TransportError):
        httpx.get(server.base_url + "/models", timeout=2)
