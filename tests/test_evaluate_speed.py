"""What makes an eval fast without changing its results: each text embedded once, answers embedded
in batches, and the concurrency limit applied to endpoint calls (not to prompt building)."""

from __future__ import annotations

import functools
import threading
import time

import numpy as np
import pytest

from fakeserver import FakeServer, Reply
from sandbox.compare import stream_compare
from sandbox.embeddings import QueryCache
from fakes import FakeEmbedder
from sandbox.evaluate import Scorer, run_eval
from sandbox.metrics import cosine
from sandbox.pipelines import Resources
from sandbox.pipelines.few_shot import FewShotPipeline
from sandbox.pipelines.rag import RagPipeline
from sandbox.records import RunRecord
from sandbox.store import Store
from test_evaluate import make_workspace


class CountingEmbedder(FakeEmbedder):
    """Records every text that reaches the model (``encode``) and every call."""

    def __init__(self):
        super().__init__()
        self.calls: list[list[str]] = []
        self._calls_lock = threading.Lock()

    def encode(self, texts, batch_size=64):
        with self._calls_lock:
            self.calls.append(list(texts))
        return super().encode(texts, batch_size)

    @property
    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call]


def test_query_cache_embeds_each_text_once():
    embedder = CountingEmbedder()
    first = embedder.encode_queries(["pump", "valve", "pump"])
    again = embedder.encode_queries(["valve", "seal", "pump"])
    assert embedder.calls == [["pump", "valve"], ["seal"]]  # duplicates and repeats never re-embedded
    plain = FakeEmbedder().encode(["pump", "valve", "seal"])
    assert np.allclose(first, plain[[0, 1, 0]]) and np.allclose(again, plain[[1, 2, 0]])
    again[0] += 1.0  # a caller's copy: the cached vector stays intact
    assert np.allclose(embedder.encode_queries(["valve"]), plain[[1]])
    assert embedder.encode_queries([]).shape == (0, embedder.dim)


def test_query_cache_is_a_bounded_lru():
    seen: list[str] = []

    def encode(texts):
        seen.extend(texts)
        return np.ones((len(texts), 2), dtype=np.float32)

    cache = QueryCache(encode, size=2)
    cache(["a"]), cache(["b"]), cache(["a"]), cache(["c"])  # "b" is now the least recently used
    assert seen == ["a", "b", "c"]
    cache(["a"])
    assert seen == ["a", "b", "c"]
    cache(["b"])
    assert seen == ["a", "b", "c", "b"]


def test_few_shot_and_rag_embed_the_question_once(tmp_path):
    from sandbox.index import build_index

    ws = make_workspace(tmp_path / "ws", "http://127.0.0.1:9/v1")
    embedder = CountingEmbedder()
    build_index(ws, "valves", embedder=embedder)
    resources = Resources(ws, embedder=embedder)
    question = "What is the service interval of the QV-7 valve?"
    few = FewShotPipeline(ws, "valves", resources).prepare(question)
    rag = RagPipeline(ws, "valves", resources).prepare(question)
    assert few.messages and rag.contexts
    assert embedder.texts.count(question) == 1


def test_scorer_embeds_references_once_and_answers_in_one_batch():
    embedder = CountingEmbedder()
    q1 = type("Q", (), {"reference": "340 bar", "source": None})()
    q2 = type("Q", (), {"reference": "410 bar", "source": None})()
    scorer = Scorer(embedder, [q1.reference, q2.reference, q1.reference, None])
    assert embedder.calls == [["340 bar", "410 bar"]]
    answers = [RunRecord(pipeline="few-shot", user_input="a", response="rated 340 bar"),
               RunRecord(pipeline="rag", user_input="a", response="410 bar [1]"),
               RunRecord(pipeline="fine-tuned", user_input="b", response="", error="timeout")]
    values = scorer([(q1, answers[0]), (q2, answers[1]), (q2, answers[2])])
    assert embedder.calls[1:] == [["rated 340 bar", "410 bar [1]"]]  # one batch; the failed answer is not embedded
    fresh = FakeEmbedder()
    for value, record, ref in zip(values[:2], answers, ["340 bar", "410 bar"]):
        assert value["similarity"] == pytest.approx(cosine(*fresh.encode([record.response, ref])))
    assert values[2]["similarity"] == 0.0 and values[2]["error"] is True


def test_concurrency_limits_endpoint_calls_and_waiting_is_not_latency(tmp_path):
    delay = 0.25
    arrivals: list[float] = []

    def reply(body) -> Reply:
        arrivals.append(time.perf_counter())
        return Reply('{"model": "QV-7", "bar": 340}', delay=delay)

    with FakeServer(reply) as server:
        ws = make_workspace(tmp_path / "ws", server.base_url)
        ws.settings.eval.concurrency = 1
        compare = functools.partial(stream_compare, resources=Resources(ws, embedder=FakeEmbedder()))
        kwargs = dict(pipelines=["few-shot", "fine-tuned"], embedder=FakeEmbedder(), stream_compare=compare, judge=False)
        run_eval(ws, "valves", limit=1, **kwargs)  # first calls in a process pay one-time costs (imports)
        arrivals.clear()
        summary = run_eval(ws, "valves", limit=3, **kwargs)
    assert summary.ran == 4 and not any(s.errors for s in summary.pipelines.values())
    gaps = np.diff(sorted(arrivals))
    assert len(arrivals) == 4 and gaps.min() >= 0.9 * delay  # one call at a time
    # All 4 answers are prepared at once; had waiting for the limit counted as latency, the last
    # would report >= 4 calls' time.
    latencies = [r.latency_s for r in Store(ws.db_path).runs(origin="eval") if r.question_id != "q1"]
    assert len(latencies) == 4 and max(latencies) < 2.8 * delay
