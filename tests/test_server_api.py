"""Request validation, error shapes, streaming format and cancellation, over a scripted generator."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from sandbox.server.app import create_app
from sandbox.server.model import Prepared
from sandbox.server.schemas import ChatParams, Completion, ModelCard, model_not_found
from sandbox.server.decode import TextStream

BASE = "smollm2-135m-instruct"


class FakeGenerator:
    """Echoes the last user message word by word; records what it was asked."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.calls: list[Prepared] = []
        self.cancelled_runs = 0

    def list_models(self):
        return [ModelCard(id=BASE, created=1, owned_by="sandbox")]

    def prepare(self, model, messages, params: ChatParams) -> Prepared:
        if model != BASE:
            raise model_not_found(model, [BASE])
        words = messages[-1]["content"].split()
        return Prepared(model=model, prompt_ids=list(range(len(words) + 3)), params=params, max_new_tokens=params.max_tokens or 100)

    def run(self, prepared, on_text, cancelled):
        self.calls.append(prepared)
        words = ["w%d" % i for i in range(prepared.max_new_tokens)]
        text = ""
        for i, word in enumerate(words):
            if cancelled():
                self.cancelled_runs += 1
                return Completion(text, len(prepared.prompt_ids), i, "cancelled")
            time.sleep(self.delay)
            piece = word if i == 0 else " " + word
            on_text(piece)
            text += piece
        return Completion(text, len(prepared.prompt_ids), len(words), "length")


@pytest.fixture
def fake():
    return FakeGenerator()


@pytest.fixture
def client(tmp_path, fake):
    with TestClient(create_app(tmp_path, fake), base_url="http://127.0.0.1") as c:
        yield c


def chat(client, **body):
    body.setdefault("model", BASE)
    body.setdefault("messages", [{"role": "user", "content": "hello there"}])
    return client.post("/v1/chat/completions", json=body)


def assert_error(resp, status, param=None):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["message"]
    if param is not None:
        assert err["param"] == param
    return err


def test_models_list_and_retrieve(client):
    data = client.get("/v1/models").json()
    assert data["object"] == "list" and [m["id"] for m in data["data"]] == [BASE]
    assert client.get(f"/v1/models/{BASE}").json()["owned_by"] == "sandbox"
    err = assert_error(client.get("/v1/models/nope"), 404, "model")
    assert err["code"] == "model_not_found" and BASE in err["message"]


def test_chat_non_streaming_shape_and_params(client, fake):
    resp = chat(client, max_completion_tokens=3, temperature=0.5, top_p=0.9, stop="x", seed=7)
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "w0 w1 w2", "refusal": None}
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    params = fake.calls[0].params
    assert (params.max_tokens, params.temperature, params.top_p, params.stop, params.seed) == (3, 0.5, 0.9, ["x"], 7)


def test_openai_defaults_when_unset(client, fake):
    chat(client, max_tokens=1)
    params = fake.calls[0].params
    assert (params.temperature, params.top_p, params.stop, params.seed) == (1.0, 1.0, [], None)


@pytest.mark.parametrize(
    "body, param",
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "messages"),
    ],
)
def test_bad_requests_are_400_with_param(client, body, param):
    err = assert_error(chat(client, **body), 400, param)
    assert err["type"] == "invalid_request_error"


def test_missing_field_and_invalid_json_use_openai_codes(tmp_path, fake):
    from sandbox.finetune.jobs import LocalJobRunner

    with TestClient(create_app(tmp_path, fake, job_runner=LocalJobRunner(tmp_path / ".sandbox")), base_url="http://127.0.0.1") as client:
        _check_missing_and_invalid_json(client)


def _check_missing_and_invalid_json(client):
    err = assert_error(client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}), 400, "model")
    assert err["code"] == "missing_required_parameter"
    for path in ("/v1/chat/completions", "/v1/fine_tuning/jobs"):
        resp = client.post(path, content=b"{not json", headers={"content-type": "application/json"})
        err = assert_error(resp, 400)
        assert "JSON" in err["message"] and err["param"] is None and err["code"] is None  # no byte offset as param
    err = assert_error(client.post("/v1/fine_tuning/jobs", json={"model": BASE}), 400, "training_file")
    assert err["code"] == "missing_required_parameter"


def test_unknown_model_is_404(client):
    err = assert_error(chat(client, model="gpt-nope"), 404, "model")
    assert err["code"] == "model_not_found"


def test_unknown_route_is_openai_shaped_404(client):
    assert_error(client.get("/v1/nothing"), 404)


def test_text_parts_and_developer_role_accepted(client, fake):
    resp = chat(client, max_tokens=1, messages=[{"role": "developer", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "a b"}]}])
    assert resp.status_code == 200
    assert len(fake.calls[0].prompt_ids) == 5


def sse_events(resp) -> list:
    events = []
    for line in resp.iter_lines():
        if line.startswith("data: "):
            payload = line[len("data: "):]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_streaming_chunks_usage_and_done(client):
    with client.stream("POST", "/v1/chat/completions", json={"model": BASE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": True, "stream_options": {"include_usage": True}}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = sse_events(resp)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "w0 w1 w2 w3"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert all(c["usage"] is None for c in chunks[:-1])


def test_streaming_without_usage_has_no_usage_key(client):
    with client.stream("POST", "/v1/chat/completions", json={"model": BASE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": True}) as resp:
        events = sse_events(resp)
    assert events[-1] == "[DONE]" and all("usage" not in e for e in events[:-1])


def test_concurrent_requests_reach_the_generator_together(tmp_path):
    """The app hands concurrent requests to the generator at once (the local model batches them)."""
    fake = FakeGenerator()
    together = threading.Barrier(3, timeout=30)  # breaks (a 500) if the app ran them one at a time
    original = fake.run

    def meeting_run(*args):
        together.wait()
        return original(*args)

    fake.run = meeting_run
    with TestClient(create_app(tmp_path, fake), base_url="http://127.0.0.1") as client:
        results = []
        threads = [threading.Thread(target=lambda: results.append(chat(client, max_tokens=5).status_code)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [200, 200, 200]


def test_generation_error_is_500_openai_shaped(tmp_path):
    fake = FakeGenerator()
    fake.run = lambda *a: (_ for _ in ()).throw(RuntimeError("boom"))
    with TestClient(create_app(tmp_path, fake), base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        err = assert_error(chat(client, max_tokens=2), 500)
    assert err["type"] == "server_error" and "boom" in err["message"]


def test_optional_routers_absent_is_fine(tmp_path, fake):
    app = create_app(tmp_path, fake)
    assert app.state.model is fake and app.state.workspace_root == tmp_path


class CharTokenizer:
    """Token i is chr(i); decode joins them (like a byte-level BPE, prefix-stable)."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


def feed(stream, text):
    out, stopped = "", False
    for ch in text:
        delta, stopped = stream.push(ord(ch))
        out += delta
        if stopped:
            break
    return out + ("" if stopped else stream.flush()), stopped


def test_text_stream_cuts_at_stop_across_tokens():
    stream = TextStream(CharTokenizer(), ["END", "\n\n"])
    out, stopped = feed(stream, "abc EN more END tail")
    assert stopped and out == "abc EN more " and stream.text == out


def test_text_stream_holds_back_possible_stop_prefix():
    stream = TextStream(CharTokenizer(), ["STOP"])
    assert stream.push(ord("a")) == ("a", False)
    assert stream.push(ord("S")) == ("", False)  # might be the start of STOP
    assert stream.push(ord("x")) == ("Sx", False)


def test_text_stream_without_stop_flushes_everything():
    stream = TextStream(CharTokenizer(), [])
    assert feed(stream, "hello") == ("hello", False)
