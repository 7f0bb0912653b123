"""The real local server (SmolLM2 over HTTP) driven by the real openai client with strict validation."""

from __future__ import annotations

import json
import threading
import time

import httpx
import openai
import pytest
from lora import make_adapter

from sandbox.localmodel import BASE_MODEL_ID

pytestmark = pytest.mark.integration

QUESTION = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def client(local_server):
    return openai.OpenAI(base_url=local_server.base_url, api_key="unused", max_retries=0, timeout=120, _strict_response_validation=True)


def ask(client, messages=QUESTION, **kw):
    kw.setdefault("max_tokens", 16)
    kw.setdefault("temperature", 0)
    return client.chat.completions.create(model=kw.pop("model", BASE_MODEL_ID), messages=messages, **kw)


def test_models_list_and_retrieve(client):
    ids = [m.id for m in client.models.list().data]
    assert BASE_MODEL_ID in ids
    assert client.models.retrieve(BASE_MODEL_ID).owned_by == "sandbox"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_chat_answers_with_consistent_usage(client, local_server):
    resp = ask(client, max_tokens=12)
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.strip()
    usage = resp.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert 0 < usage.completion_tokens <= 12
    if choice.finish_reason == "length":
        assert usage.completion_tokens == 12
    tokenizer = local_server.model.tokenizer()
    expected = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert usage.prompt_tokens == len(expected)


def test_streaming_matches_non_streaming(client):
    whole = ask(client, max_tokens=12)
    stream = ask(client, max_tokens=12, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2  # really streamed
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_stream_ends_with_done_on_the_wire(local_server):
    body = {"model": BASE_MODEL_ID, "messages": QUESTION, "max_tokens": 3, "stream": True}
    with httpx.stream("POST", local_server.base_url + "/chat/completions", json=body, timeout=60) as resp:
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_stop_sequence_cuts_the_answer(client):
    full = ask(client, max_tokens=20).choices[0].message.content
    words = full.split()
    assert len(words) >= 3, full
    stop = " " + words[2]
    cut = ask(client, max_tokens=20, stop=[stop])
    assert cut.choices[0].message.content == full[: full.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_seed_reproducible_when_sampling(client):
    kw = {"max_tokens": 12, "temperature": 1.0, "top_p": 0.95}
    first = ask(client, seed=1234, **kw).choices[0].message.content
    again = ask(client, seed=1234, **kw).choices[0].message.content
    assert first == again
    others = {ask(client, seed=s, **kw).choices[0].message.content for s in (1, 2)}
    assert others != {first}  # the seed really drives the sampling


def test_errors_are_openai_exceptions(client):
    with pytest.raises(openai.NotFoundError) as info:
        ask(client, model="ft:unknown:model")
    assert info.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, temperature=7)
    assert info.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError):
        ask(client, n=2)


def test_two_concurrent_requests_both_succeed(client):
    results, errors = [], []

    def one(seed):
        try:
            results.append(ask(client, max_tokens=8, temperature=0.7, seed=seed).choices[0].message.content)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 2 and all(results)


def test_disconnect_mid_stream_frees_the_worker(local_server, client):
    body = {"model": BASE_MODEL_ID, "messages": [{"role": "user", "content": "Write a very long story about a ship."}],
            "max_tokens": 3000, "temperature": 0.8, "seed": 3, "stream": True}
    with httpx.stream("POST", local_server.base_url + "/chat/completions", json=body, timeout=60) as resp:
        seen = 0
        for line in resp.iter_lines():
            seen += line.startswith("data: ")
            if seen >= 4:
                break  # hang up after a few tokens
    started = time.monotonic()
    assert ask(client, max_tokens=4).choices[0].message.content
    # 3000 tokens would take minutes; a cancelled generation frees the worker within a token or two
    assert time.monotonic() - started < 20


@pytest.mark.slow
def test_fine_tuned_adapter_is_listed_and_answers(local_server, client):
    model_id = "ft:smollm2-135m-instruct:test:job123"
    base_answer = ask(client, max_tokens=10).choices[0].message.content
    folder = local_server.app.state.workspace_root / ".sandbox" / "finetune" / "models" / "job123"
    make_adapter(folder, model_id)  # appears without a restart
    card = next(m for m in client.models.list().data if m.id == model_id)
    assert card.owned_by == "user" and card.created == 1700000000
    tuned = ask(client, model=model_id, max_tokens=10)
    assert tuned.model == model_id and tuned.usage.completion_tokens > 0
    assert tuned.choices[0].message.content != base_answer  # the adapter changes the weights
    # and the base model is still the base model once the adapter is loaded
    assert ask(client, max_tokens=10).choices[0].message.content == base_answer
