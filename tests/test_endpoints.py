"""Endpoint calls over real HTTP to a scripted loopback server: usage, cost, retries, failures."""

from __future__ import annotations

import asyncio
import time

import pytest
from fakeserver import FakeServer, Reply

from sandbox.config import EndpointConfig
from sandbox.endpoints import ChatEndpoint, cost_usd
from sandbox.errors import ConfigError, EndpointError

MESSAGES = [{"role": "user", "content": "three little words"}]


def call(server, deltas=None, **config):
    endpoint = ChatEndpoint("test", EndpointConfig(base_url=server.base_url, **{"timeout_s": 5, **config}), server.base_url)
    return asyncio.run(endpoint.complete(MESSAGES, model="m", max_tokens=16, on_delta=None if deltas is None else deltas.append))


def test_streams_deltas_and_reads_usage():
    deltas = []
    with FakeServer(Reply("one two three")) as server:
        result = call(server, deltas)
    assert result.text == "one two three" and deltas == ["one ", "two ", "three"]
    assert (result.prompt_tokens, result.completion_tokens, result.usage_estimated, result.attempts) == (3, 3, False, 1)
    body = server.requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True} and body["max_tokens"] == 16


def test_missing_usage_is_estimated_and_marked():
    with FakeServer(Reply("x" * 40, usage=False)) as server:
        result = call(server)
    assert result.usage_estimated and result.completion_tokens == 10 and result.prompt_tokens >= 1


def test_cost_arithmetic():
    config = EndpointConfig(price_in_per_mtok=0.15, price_out_per_mtok=0.60)
    assert cost_usd(config, 1_000_000, 0) == pytest.approx(0.15)
    assert cost_usd(config, 2_000, 500) == pytest.approx(2_000 * 0.15e-6 + 500 * 0.60e-6)
    assert cost_usd(EndpointConfig(), 10**6, 10**6) == 0.0


@pytest.mark.parametrize("first", [Reply(status=500), Reply(status=429, headers={"retry-after": "0"}), Reply(status=503)])
def test_retries_transient_failures_then_succeeds(first):
    with FakeServer([first, first, Reply("fine")]) as server:
        result = call(server, max_retries=2)
    assert result.text == "fine" and result.attempts == 3 and len(server.requests) == 3


def test_gives_up_after_retries_and_says_so():
    with FakeServer(Reply(status=500)) as server:
        started = time.perf_counter()
        with pytest.raises(EndpointError) as err:
            call(server, max_retries=3)
    assert len(server.requests) == 4
    assert "HTTP 500" in str(err.value) and "after 4 attempts" in str(err.value)
    assert time.perf_counter() - started < 8  # backoff is capped and jittered, not unbounded


def test_backoff_grows_exponentially_with_jitter():
    endpoint = ChatEndpoint("t", EndpointConfig(), "http://x")
    waits = [[endpoint._backoff(attempt, RuntimeError()) for _ in range(200)] for attempt in (1, 2, 3)]
    assert all(0 <= w <= 0.5 for w in waits[0]) and max(waits[2]) > 1.0 and max(waits[2]) <= 2.0
    assert len({round(w, 6) for w in waits[0]}) > 100  # jittered, not a fixed sleep


def test_client_errors_are_not_retried():
    with FakeServer(Reply(status=404)) as server, pytest.raises(EndpointError, match=r"HTTP 404.*after 1 attempt"):
        call(server, max_retries=3)
    assert len(server.requests) == 1


def test_hang_times_out_without_retrying():
    with FakeServer(Reply(hang=True)) as server:
        started = time.perf_counter()
        with pytest.raises(EndpointError, match=r"no answer within 0.5 s \(after 1 attempt\)"):
            call(server, timeout_s=0.5, max_retries=2)
    assert time.perf_counter() - started < 2.5 and len(server.requests) == 1


def test_connection_refused_is_retried_and_reported():
    with FakeServer() as server:
        url = server.base_url
    endpoint = ChatEndpoint("gone", EndpointConfig(base_url=url, max_retries=1), url)
    with pytest.raises(EndpointError, match=r"connection failed.*after 2 attempts") as err:
        asyncio.run(endpoint.complete(MESSAGES, model="m"))
    assert "Is the server running?" in str(err.value)


@pytest.mark.parametrize("reply, match", [
    (Reply(malformed=True), "malformed response"),
    (Reply(""), "empty answer"),
    (Reply("   "), "empty answer"),
])
def test_bad_responses_become_clear_errors(reply, match):
    with FakeServer(reply) as server, pytest.raises(EndpointError, match=match):
        call(server)


def test_api_key_comes_from_env_and_never_appears_in_errors(monkeypatch):
    monkeypatch.setenv("TEST_KEY_VAR", "sk-secret-123")
    with FakeServer(Reply(status=401)) as server, pytest.raises(EndpointError) as err:
        call(server, api_key_env="TEST_KEY_VAR")
    assert "sk-secret" not in str(err.value) and "TEST_KEY_VAR" in str(err.value)
    monkeypatch.delenv("TEST_KEY_VAR")
    with FakeServer() as server, pytest.raises(ConfigError, match="TEST_KEY_VAR is not set"):
        call(server, api_key_env="TEST_KEY_VAR")


def test_an_endpoint_that_echoes_the_key_gets_it_redacted(monkeypatch):
    """Issue #19 row 8: the endpoint's error text carried the key into the store."""
    monkeypatch.setenv("TEST_KEY_VAR", "sk-live-0123456789abcdef")
    with FakeServer(Reply(status=400, error="Incorrect API key provided: {key}.")) as server, \
            pytest.raises(EndpointError) as err:
        call(server, api_key_env="TEST_KEY_VAR")
    assert "0123456789abcdef" not in str(err.value) and "Incorrect API key provided: [redacted]." in str(err.value)
