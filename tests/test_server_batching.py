"""Continuous batching with the real model: a request's answer is the same alone or in a batch.

A "gate" request pauses the scheduler (its first text callback blocks) until the others are
submitted, so all of them are certain to join the same running batch; no test depends on timing.
"""

from __future__ import annotations

import threading

import pytest
from lora import make_adapter

from sandbox.localmodel import BASE_MODEL_ID
from sandbox.server.schemas import ChatParams

pytestmark = pytest.mark.integration

PROMPTS = ["Name three colours.", "Write a haiku about the sea.", "What is a vector database?"]


@pytest.fixture(scope="module")
def model(local_server):
    model = local_server.model
    model.load()
    return model


def prepare(model, prompt, model_id=BASE_MODEL_ID, **params):
    params.setdefault("max_tokens", 24)
    params.setdefault("temperature", 0)
    return model.prepare(model_id, [{"role": "user", "content": prompt}], ChatParams(**params))


def alone(model, prepared):
    return model.run(prepared, lambda _: None, lambda: False)


def batched(model, requests, cancel_after=None, fail_after=None):
    """Run ``requests`` (prepared) so that all share the batch; returns their Completions in order.

    ``cancel_after``: {index: n} cancels that request after it streamed n text pieces;
    ``fail_after``: {index: n} makes its text callback raise then (a stream whose server went away).
    """
    cancel_after, fail_after = cancel_after or {}, fail_after or {}
    gate, release = threading.Event(), threading.Event()
    results, pieces = [None] * len(requests), [0] * len(requests)

    def on_text(i):
        def receive(_):
            pieces[i] += 1
            if i in fail_after and pieces[i] >= fail_after[i]:
                raise RuntimeError("the client's stream is closed")
            if i == 0 and not gate.is_set():
                gate.set()
                release.wait(60)  # the scheduler waits here while the others are queued
        return receive

    def run(i):
        cancelled = lambda: i in cancel_after and pieces[i] >= cancel_after[i]  # noqa: E731
        try:
            results[i] = model.run(requests[i], on_text(i), cancelled)
        except RuntimeError as exc:
            results[i] = exc

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert gate.wait(120)
    others = [threading.Thread(target=run, args=(i,)) for i in range(1, len(requests))]
    before = model._batcher.peak_rows
    model._batcher.peak_rows = 0
    for t in others:
        t.start()
    while model._batcher._queue.qsize() < len(others):  # all submitted before the scheduler moves on
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *others]:
        t.join(300)
    assert model._batcher.peak_rows == len(requests)  # they really shared a step
    model._batcher.peak_rows = max(before, model._batcher.peak_rows)
    return results


def test_greedy_and_seeded_answers_are_the_same_alone_and_batched(model):
    requests = [prepare(model, p) for p in PROMPTS]
    requests.append(prepare(model, PROMPTS[1], temperature=0.9, top_p=0.95, seed=7))
    requests.append(prepare(model, PROMPTS[0], stop=[","], max_tokens=30))
    single = [alone(model, r) for r in requests]
    together = batched(model, requests)
    assert [c.text for c in together] == [c.text for c in single]
    assert [c.finish_reason for c in together] == [c.finish_reason for c in single]
    assert [c.completion_tokens for c in together] == [c.completion_tokens for c in single]
    assert all(c.text for c in single)


def test_cancelling_or_failing_one_request_leaves_the_others_unchanged(model):
    requests = [prepare(model, p, max_tokens=32) for p in [*PROMPTS, PROMPTS[0]]]
    single = [alone(model, r) for r in requests]
    together = batched(model, requests, cancel_after={1: 3}, fail_after={3: 2})
    assert together[1].finish_reason == "cancelled" and together[1].completion_tokens < 32
    assert isinstance(together[3], RuntimeError)
    assert [together[0].text, together[2].text] == [single[0].text, single[2].text]


@pytest.mark.slow
def test_base_and_fine_tunes_share_a_batch_with_their_own_answers(model, local_server):
    root = local_server.app.state.workspace_root / ".sandbox" / "finetune" / "models"
    ids = ["ft:smollm2-135m-instruct:batch:a", "ft:smollm2-135m-instruct:batch:b"]
    for i, model_id in enumerate(ids):
        make_adapter(root / f"batch-{i}", model_id, seed=i)
    requests = [prepare(model, PROMPTS[0], ids[0]), prepare(model, PROMPTS[0]), prepare(model, PROMPTS[1], ids[1]),
                prepare(model, PROMPTS[0], ids[1])]
    single = [alone(model, r) for r in requests]
    assert len({single[0].text, single[1].text, single[3].text}) == 3  # the adapters really change the answer
    together = batched(model, requests)
    assert [c.text for c in together] == [c.text for c in single]
