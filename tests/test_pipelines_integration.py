"""All three pipelines against the real local model server over HTTP, with a real Chroma index."""

from __future__ import annotations

import json

import pytest

from fakes import compare
from sandbox.config import load_workspace
from sandbox.store import Store

pytestmark = pytest.mark.integration

DOCS = {
    "pumps.md": "# Pumps\n\nThe P-20 pump must be serviced every 400 operating hours. Use seal kit SK-7.",
    "valves.md": "# Valves\n\nValve V-3 is rated to 16 bar. Replace its gasket when leaking.",
}


@pytest.fixture
def tiny_workspace(tmp_path, local_server, monkeypatch):
    monkeypatch.setenv("SANDBOX_LOCAL_BASE_URL", local_server.base_url)
    root = tmp_path / "ws"
    docs = root / "corpora" / "plant" / "docs"
    docs.mkdir(parents=True)
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    examples = [("How often is the P-20 serviced?", "Every 400 hours."), ("Rating of V-3?", "16 bar.")]
    (root / "corpora" / "plant" / "examples.jsonl").write_text("\n".join(json.dumps({"messages": [
        {"role": "system", "content": "Answer in one short sentence."}, {"role": "user", "content": q},
        {"role": "assistant", "content": a}]}) for q, a in examples) + "\n")
    (root / "corpora" / "plant" / "questions.jsonl").write_text(json.dumps({"id": "p1", "question": "Which seal kit fits the P-20?"}) + "\n")
    # the fine-tuned pipeline points at the base model so it runs without training
    (root / "sandbox.toml").write_text(
        "".join(f'[pipelines.{p}]\nmax_tokens = 12\n' for p in ("few-shot", "rag", "fine-tuned"))
        + '[datasets.plant]\nfine_tuned_model = "smollm2-135m-instruct"\n')
    ws = load_workspace(root)
    from sandbox.index import build_index

    build_index(ws, "plant")
    return ws


def test_three_pipelines_against_the_local_server(tiny_workspace):
    ws = tiny_workspace
    store = Store(ws.db_path)
    records = compare(ws, "Which seal kit fits the P-20 pump?", dataset="plant", store=store)
    assert [r.pipeline for r in records] == ["few-shot", "rag", "fine-tuned"]
    for record in records:
        assert record.error is None, record.error
        assert record.response.strip() and record.model == "smollm2-135m-instruct"
        assert 0 < record.completion_tokens <= 12 and record.prompt_tokens > 0 and not record.usage_estimated
    few, rag, tuned = records
    assert rag.contexts and rag.contexts[0].source == "pumps.md"
    assert rag.evidence and rag.evidence[0].source == "pumps.md"  # evidence sentences, numbered, before the question
    assert rag.prompt_messages[-1]["content"].startswith(f"[1] {rag.evidence[0].text}\n")  # the source is shown, not sent
    assert few.prompt_tokens > tuned.prompt_tokens  # the fine-tuned prompt is the short one
    assert tuned.prompt_messages == [{"role": "system", "content": "Answer in one short sentence."},
                                     {"role": "user", "content": "Which seal kit fits the P-20 pump?"}]
    assert {r.id for r in store.runs(comparison_id=few.comparison_id)} == {r.id for r in records}
