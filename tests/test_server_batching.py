"""Continuous batching with the real model: a request's answer is the same alone or in a batch.

A "gate" request pauses the scheduler (its first text callback blocks) until the others are
prefilled, so all of them are certain to join the same running batch; no test depends on timing.
"""

from __future__ import annotations

import threading

import pytest
from lora import make_adapter

from sandbox.localmodel import BASE_MODEL_ID
from sandbox.server.batching import Batcher
from sandbox.server.decode import Sequence
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
    while model._batcher._ready.qsize() < len(others):  # all prefilled before the scheduler moves on
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


@pytest.mark.slow
def test_requests_arriving_together_prefill_side_by_side_with_their_own_answers(model, local_server):
    """A compare's requests (a long prompt, a fine-tune, a short one) prefill at the same time, each as alone."""
    root = local_server.app.state.workspace_root / ".sandbox" / "finetune" / "models"
    adapter = "ft:smollm2-135m-instruct:batch:side"
    make_adapter(root / "batch-side", adapter, seed=3)
    context = " ".join(f"Fact {i}: the {w} valve opens at {i * 7} kPa." for i, w in enumerate(["red", "blue", "green"] * 6))
    requests = [prepare(model, f"{context}\nWhich valve opens at 14 kPa?"), prepare(model, PROMPTS[1], adapter),
                prepare(model, PROMPTS[2])]
    single = [alone(model, r) for r in requests]
    all_in_flight = threading.Barrier(len(requests), timeout=120)

    def forward(input_ids, position_ids, *rest, **kwargs):
        if position_ids is None:  # a prefill: it passes only once every request is prefilling at the same time
            all_in_flight.wait()
        return model._forward(input_ids, position_ids, *rest, **kwargs)

    batcher = Batcher(forward, threads=model.threads, prefill_workers=len(requests))
    try:
        futures = [batcher.submit(Sequence(r.prompt_ids, r.params, r.max_new_tokens, model._tokenizer, model._eos,
                                           adapter=None if r.model == BASE_MODEL_ID else r.model)) for r in requests]
        together = [f.result(300) for f in futures]
    finally:
        batcher.stop()
    assert [c.text for c in together] == [c.text for c in single]
    assert single[1].text != alone(model, prepare(model, PROMPTS[1])).text  # the adapter really changes the answer


def test_a_request_waiting_for_a_slot_ends_when_its_client_hangs_up(model):
    hold, gate = threading.Event(), threading.Event()
    first = prepare(model, PROMPTS[0], max_tokens=8)
    batcher = Batcher(model._forward, max_batch=1, threads=model.threads)

    def block(_):
        gate.set()
        hold.wait(60)

    try:
        running = batcher.submit(Sequence(first.prompt_ids, first.params, first.max_new_tokens, model._tokenizer,
                                          model._eos, on_text=block))
        assert gate.wait(120)  # the only slot is taken
        waiting = batcher.submit(Sequence(first.prompt_ids, first.params, first.max_new_tokens, model._tokenizer,
                                          model._eos, cancelled=lambda: True))
        assert waiting.result(60).finish_reason == "cancelled" and waiting.result().completion_tokens == 0
        hold.set()
        assert running.result(120).finish_reason in ("stop", "length")
    finally:
        hold.set()
        batcher.stop()
