"""Benchmark the compare machinery against loopback OpenAI-compatible endpoints.

1. Concurrency: endpoints answering after 0.3 s, 0.6 s and 0.9 s; one compare should take about
   as long as the slowest pipeline alone (target <= 1.15x; a sequential loop would be 2x).
2. Overhead: one pipeline call (prompt from the YAML file, record, SQLite store) versus a bare
   `openai` streaming call to the same endpoint (target <= 10 ms per call). Retrieval excluded.

Run: .venv/bin/python benchmarks/bench_compare.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakeserver import FakeServer, Reply  # noqa: E402

from sandbox.compare import stream_compare  # noqa: E402
from fakes import FakeEmbedder, compare  # noqa: E402
from sandbox.config import load_workspace  # noqa: E402
from sandbox.pipelines import Resources  # noqa: E402
from sandbox.store import Store  # noqa: E402

QUESTION = "How often is the P-20 pump serviced?"
DELAYS = {"few-shot": 0.3, "rag": 0.6, "fine-tuned": 0.9}


class StaticRetriever:
    """Retrieval is excluded from these measurements: always the same three chunks."""

    def __init__(self, workspace, dataset):
        from types import SimpleNamespace

        self.hits = [SimpleNamespace(source=f"doc{i}.md", chunk_id=f"doc{i}#0", text=f"Context number {i}. " * 20,
                                     score=1.0 / i) for i in (1, 2, 3)]

    def search(self, query, k):
        return self.hits[:k]


def make_workspace(root: Path, urls: dict[str, str]):
    ds = root / "corpora" / "bench"
    ds.mkdir(parents=True)
    rows = [{"messages": [{"role": "system", "content": "Answer briefly."},
                          {"role": "user", "content": f"Question {i} about part P-{i}?"},
                          {"role": "assistant", "content": f"Answer {i}."}]} for i in range(100)]
    (ds / "examples.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (ds / "questions.jsonl").write_text(json.dumps({"id": "q1", "question": "Held out?"}) + "\n")
    toml = ['[datasets.bench]', 'fine_tuned_model = "ft:bench"']
    for name, url in urls.items():
        toml += [f"[endpoints.{name}]", f'base_url = "{url}"', 'model = "m"', f"[pipelines.{name}]", f'endpoint = "{name}"']
    (root / "sandbox.toml").write_text("\n".join(toml) + "\n")
    ws = load_workspace(root)
    return ws, Resources(ws, embedder=FakeEmbedder(), retriever_factory=StaticRetriever)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_concurrency(root: Path, repeats: int = 5) -> dict:
    servers = {n: FakeServer(Reply("The answer is forty two.", delay=d)).start() for n, d in DELAYS.items()}
    try:
        ws, res = make_workspace(root, {n: s.base_url for n, s in servers.items()})
        compare(ws, QUESTION, dataset="bench", resources=res)  # warm-up: imports, example embeddings
        alone = {n: statistics.median(timed(lambda n=n: compare(ws, QUESTION, dataset="bench", pipelines=[n], resources=res))
                                      for _ in range(repeats)) for n in DELAYS}
        together = statistics.median(timed(lambda: compare(ws, QUESTION, dataset="bench", resources=res)) for _ in range(repeats))
    finally:
        for server in servers.values():
            server.stop()
    slowest = max(alone.values())
    return {"alone_s": {n: round(t, 3) for n, t in alone.items()}, "compare_s": round(together, 3),
            "sequential_s": round(sum(alone.values()), 3), "ratio_vs_slowest": round(together / slowest, 3)}


async def bare_call(client, messages) -> None:
    stream = await client.chat.completions.create(model="m", messages=messages, max_tokens=256, temperature=0.0,
                                                  stream=True, stream_options={"include_usage": True})
    async for _ in stream:
        pass


async def machinery_call(ws, res, store, pipeline) -> None:
    async for _ in stream_compare(ws, QUESTION, dataset="bench", pipelines=[pipeline], resources=res, store=store):
        pass


def bench_overhead(root: Path, calls: int = 60) -> dict:
    from openai import AsyncOpenAI

    with FakeServer(Reply("The answer is forty two.")) as server:
        ws, res = make_workspace(root, {n: server.base_url for n in DELAYS})
        store = Store(ws.db_path)

        async def run() -> dict:
            client = AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
            out = {}
            for pipeline in ("fine-tuned", "rag", "few-shot"):
                for _ in range(10):  # warm-up: imports, caches, connection pool
                    await machinery_call(ws, res, store, pipeline)
                messages = (await asyncio.to_thread(
                    lambda: __import__("sandbox.pipelines", fromlist=["x"]).pipeline_class(pipeline)(ws, "bench", res).prepare(QUESTION))).messages
                for _ in range(10):
                    await bare_call(client, messages)
                bare, ours = [], []
                for _ in range(calls):  # interleaved so drift hits both equally
                    t = time.perf_counter(); await bare_call(client, messages); bare.append(time.perf_counter() - t)
                    t = time.perf_counter(); await machinery_call(ws, res, store, pipeline); ours.append(time.perf_counter() - t)
                out[pipeline] = {"bare_ms": round(statistics.median(bare) * 1000, 2),
                                 "pipeline_ms": round(statistics.median(ours) * 1000, 2),
                                 "overhead_ms": round((statistics.median(ours) - statistics.median(bare)) * 1000, 2)}
            return out

        return asyncio.run(run())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        concurrency = bench_concurrency(Path(tmp) / "c")
        overhead = bench_overhead(Path(tmp) / "o")
    print("concurrency (endpoints answering after 0.3 / 0.6 / 0.9 s, median of 5):")
    print(f"  alone: {concurrency['alone_s']}")
    print(f"  one compare: {concurrency['compare_s']} s; a sequential loop: {concurrency['sequential_s']} s")
    print(f"  compare / slowest alone = {concurrency['ratio_vs_slowest']}x (target <= 1.15x)")
    print("overhead per call vs a bare openai streaming call (median of 60, retrieval excluded, record stored):")
    for pipeline, row in overhead.items():
        print(f"  {pipeline:10s} bare {row['bare_ms']} ms, pipeline {row['pipeline_ms']} ms, overhead {row['overhead_ms']} ms (target <= 10 ms)")
    ok = concurrency["ratio_vs_slowest"] <= 1.15 and all(r["overhead_ms"] <= 10 for r in overhead.values())
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
