"""Compare: pipelines run concurrently, results arrive as each finishes, one failure never breaks
the others, runs share a comparison id and survive the store round trip; `sandbox ask` prints them."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from fakeserver import FakeServer, Reply
from test_pipelines import ListRetriever, make_workspace
from typer.testing import CliRunner

from sandbox.compare import Delta, Done, stream_compare
from fakes import FakeEmbedder, compare
from sandbox.pipelines import Resources
from sandbox.store import Store


def endpoints_toml(urls: dict[str, str], **extra) -> str:
    lines = []
    for pipeline, url in urls.items():
        lines += [f"[endpoints.{pipeline}]", f'base_url = "{url}"', 'model = "base-model"', "max_retries = 1",
                  "timeout_s = 3", "price_in_per_mtok = 1.0", "price_out_per_mtok = 2.0",
                  f"[pipelines.{pipeline}]", f'endpoint = "{pipeline}"']
    lines += ["[datasets.units]", 'fine_tuned_model = "ft:base-model:units:1"']
    return "\n".join(lines) + "\n"


@pytest.fixture
def servers():
    delays = {"few-shot": 0.3, "rag": 0.6, "fine-tuned": 0.9}
    started = {name: FakeServer(lambda body, d=d: Reply(f"answer from {body['model']}", delay=d)).start()
               for name, d in delays.items()}
    yield started
    for server in started.values():
        server.stop()


def workspace_for(tmp_path, servers):
    return make_workspace(tmp_path / "ws", toml=endpoints_toml({n: s.base_url for n, s in servers.items()}))


def resources(ws):
    return Resources(ws, embedder=FakeEmbedder(), retriever_factory=ListRetriever)


async def consume(ws, **kwargs):
    items, stamps, t0 = [], {}, time.perf_counter()
    kwargs.setdefault("resources", resources(ws))
    async for item in stream_compare(ws, "five metres in feet", dataset="units", **kwargs):
        items.append(item)
        if isinstance(item, Done):
            stamps[item.record.pipeline] = time.perf_counter() - t0
    return items, stamps, time.perf_counter() - t0


def test_runs_concurrently_and_streams_in_finishing_order(tmp_path, servers):
    # every endpoint answers only once all three requests are in: calls made one after another would
    # break the barrier (an error in every record), whatever the machine's speed
    barrier = threading.Barrier(3, timeout=20)
    for server in servers.values():
        server.script = lambda body, reply=server.script: (barrier.wait(), reply(body))[1]
    ws = workspace_for(tmp_path, servers)
    items, _, _ = asyncio.run(consume(ws))
    done = [i.record for i in items if isinstance(i, Done)]
    assert all(r.error is None for r in done), [r.error for r in done]
    assert [r.pipeline for r in done] == ["few-shot", "rag", "fine-tuned"]  # 0.3 s, 0.6 s, 0.9 s after the barrier
    pieces = "".join(i.text for i in items if isinstance(i, Delta) and i.pipeline == "fine-tuned")
    assert pieces == "answer from ft:base-model:units:1"
    assert len({r.comparison_id for r in done}) == 1 and done[0].comparison_id
    rag = next(r for r in done if r.pipeline == "rag")
    assert [c.source for c in rag.contexts][:1] == ["doc1.md"] and rag.retrieved_contexts
    few = done[0]
    assert few.cost_usd == pytest.approx((few.prompt_tokens * 1.0 + few.completion_tokens * 2.0) / 1e6)
    assert few.prompt_messages[0]["role"] == "system" and few.endpoint == "few-shot"


@pytest.mark.parametrize("bad", [Reply(status=500), Reply(status=429), Reply(hang=True), Reply(malformed=True), Reply("")])
def test_one_failure_never_delays_or_breaks_the_others(tmp_path, servers, bad):
    servers["rag"].script = [bad]
    ws = workspace_for(tmp_path, servers)
    items, _, _ = asyncio.run(consume(ws))
    records = {i.record.pipeline: i.record for i in items if isinstance(i, Done)}
    assert records["rag"].error and "Endpoint 'rag'" in records["rag"].error
    assert records["few-shot"].response and records["fine-tuned"].response, records["fine-tuned"].error
    if bad.hang:  # the others were streamed while rag still waited for its 3 s timeout
        assert [i.record.pipeline for i in items if isinstance(i, Done)][-1] == "rag"


def test_one_time_loading_happens_before_any_call_and_is_not_latency(tmp_path, servers):
    arrivals: dict[str, float] = {}
    for name, server in servers.items():
        server.script = lambda body, name=name: arrivals.setdefault(name, time.monotonic()) and Reply("an answer")
    loaded_at: list[float] = []

    def slow_index(workspace, dataset):  # opening an index: a second of one-time work
        time.sleep(1.0)
        loaded_at.append(time.monotonic())
        return ListRetriever(workspace, dataset)

    ws = workspace_for(tmp_path, servers)
    res = Resources(ws, embedder=FakeEmbedder(), retriever_factory=slow_index)
    items, _, _ = asyncio.run(consume(ws, resources=res))
    records = {i.record.pipeline: i.record for i in items if isinstance(i, Done)}
    assert not any(r.error for r in records.values())
    assert min(arrivals.values()) >= loaded_at[0]  # no call was in flight while the index loaded
    assert records["rag"].load_s >= 1.0  # the index load is load_s, not latency
    assert all(r.load_s > 0 for r in records.values())  # the others waited for it before calling
    assert [r.to_result()["load_s"] for r in records.values()] == [round(r.load_s, 3) for r in records.values()]


def test_pipeline_errors_are_data_and_stored(tmp_path, servers):
    ws = workspace_for(tmp_path, servers)
    (ws.root / "sandbox.toml").write_text(endpoints_toml({n: s.base_url for n, s in servers.items()}).split("[datasets")[0])
    from sandbox.config import load_workspace

    ws = load_workspace(ws.root)
    store = Store(ws.db_path)
    records = compare(ws, "two litres in pints", dataset="units", pipelines=["fine-tuned", "few-shot"], store=store,
                      resources=resources(ws), question_id="q9", reference="3.5 pt", origin="eval")
    assert [r.pipeline for r in records] == ["fine-tuned", "few-shot"]
    assert "sandbox finetune start units" in records[0].error and records[1].ok
    stored = {r.pipeline: r for r in store.runs(comparison_id=records[0].comparison_id)}
    assert stored["few-shot"] == records[1] and stored["fine-tuned"].error == records[0].error
    assert stored["few-shot"].reference == "3.5 pt" and stored["few-shot"].question_id == "q9"


def test_ask_json_in_requested_order_and_exit_zero(tmp_path, servers, monkeypatch):
    from sandbox.cli import app

    servers["few-shot"].script = [Reply(status=500)]
    ws = workspace_for(tmp_path, servers)
    monkeypatch.setattr("sandbox.compare.resources_for", lambda w: resources(w))
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "ask", "five metres in feet", "-d", "units",
                                      "-p", "fine-tuned,few-shot", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == "five metres in feet"
    assert [r["pipeline"] for r in data["results"]] == ["fine-tuned", "few-shot"]
    assert set(data["results"][0]) == {"pipeline", "model", "answer", "error", "latency_s", "load_s", "prompt_tokens",
                                       "completion_tokens", "cost_usd", "contexts", "evidence"}  # evidence: RAG extra
    assert data["results"][0]["evidence"] == []
    assert data["results"][0]["answer"] and "HTTP 500" in data["results"][1]["error"]
    assert len(Store(ws.db_path).runs()) == 2


def test_ask_table_no_store_and_usage_errors(tmp_path, servers, monkeypatch):
    from sandbox.cli import app

    ws = workspace_for(tmp_path, servers)
    monkeypatch.setattr("sandbox.compare.resources_for", lambda w: resources(w))
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "ask", "[bold]x[/bold] metres", "--no-store"])
    assert result.exit_code == 0, result.output
    assert "few-shot" in result.stdout and "doc1.md" in result.stdout and "[bold]x[/bold]" in result.stdout
    assert not Store(ws.db_path).runs()
    bad = CliRunner().invoke(app, ["--workspace", str(ws.root), "ask", "q", "-p", "few-shot,psychic"])
    assert bad.exit_code != 0
