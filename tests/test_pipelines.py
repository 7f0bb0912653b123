"""Pipelines build the right call: examples chosen by similarity but never held out, numbered
contexts, the short fine-tuned prompt, and errors that say how to fix."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from sandbox.config import load_workspace
from fakes import FakeEmbedder
from sandbox.errors import ConfigError, DataError, IndexStateError
from sandbox.pipelines import REGISTRY, Resources, pipeline_class
from sandbox.pipelines.few_shot import ExampleBank

SYSTEM = "Convert the unit."
PAIRS = [("five metres in feet", "16.4 ft"), ("ten kilograms in pounds", "22.0 lb"), ("two litres in pints", "3.5 pt"),
         ("seven metres in feet", "23.0 ft"), ("three kilograms in pounds", "6.6 lb"), ("one litre in pints", "1.8 pt")]


class ListRetriever:
    def __init__(self, workspace, dataset):
        self.queries = []

    def search(self, query, k):
        self.queries.append((query, k))
        return [SimpleNamespace(source=f"doc{i}.md", chunk_id=f"doc{i}#0", text=f"chunk {i}\ntext", score=1 - i / 10)
                for i in range(1, k + 1)]


def make_workspace(root, pairs=PAIRS, questions=("seven metres in feet",), toml=""):
    ds = root / "corpora" / "units"
    ds.mkdir(parents=True)
    (ds / "examples.jsonl").write_text("\n".join(json.dumps({"messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": q}, {"role": "assistant", "content": a}]})
        for q, a in pairs) + "\n")
    (ds / "questions.jsonl").write_text("\n".join(json.dumps({"id": f"q{i}", "question": q}) for i, q in enumerate(questions)) + "\n")
    (root / "sandbox.toml").write_text(toml)
    return load_workspace(root)


@pytest.fixture(autouse=True)
def _fresh_banks():
    from sandbox.pipelines import few_shot

    few_shot._BANKS.clear()  # each test sees its own files, not a bank cached by an earlier test


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws", toml="[pipelines.few-shot]\nk = 2\n[pipelines.rag]\nk = 3\n")


def prepare(ws, name, question, **resources):
    res = Resources(ws, embedder=FakeEmbedder(), **resources)
    return pipeline_class(name)(ws, "units", res).prepare(question)


def test_registry_names_match_the_contract():
    assert list(REGISTRY) == ["few-shot", "rag", "fine-tuned"]
    with pytest.raises(ConfigError, match="Pipelines are"):
        pipeline_class("zero-shot")


def test_few_shot_picks_similar_examples_uses_dataset_instruction(ws):
    prepared = prepare(ws, "few-shot", "eight kilograms in pounds")
    messages = prepared.messages
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith(SYSTEM)
    shown = [m["content"] for m in messages[1:-1:2]]
    assert sorted(shown) == ["ten kilograms in pounds", "three kilograms in pounds"]
    assert messages[-1] == {"role": "user", "content": "eight kilograms in pounds"}
    assert prepared.model == "smollm2-135m-instruct"


def test_few_shot_never_shows_held_out_or_the_asked_question(ws):
    shown = [m["content"] for m in prepare(ws, "few-shot", "metres in feet please").messages[1:-1:2]]
    assert "seven metres in feet" not in shown  # in questions.jsonl: held out
    assert "five metres in feet" in shown
    # Asking (nearly) an example's own input must not show that example's answer.
    shown = [m["content"] for m in prepare(ws, "few-shot", "Five metres in feet?").messages[1:-1:2]]
    assert "five metres in feet" not in shown


def test_example_bank_near_duplicates():
    examples = [SimpleNamespace(input=t) for t in ("The cat sat on the mat.", "A dog ran in the park today.")]
    bank = ExampleBank(examples, ["the cat sat on the mat", "completely different"], FakeEmbedder())
    assert bank.excluded == 1 and [e.input for e in bank.examples] == ["A dog ran in the park today."]


def test_example_embeddings_cached_on_disk_per_content(ws):
    prepare(ws, "few-shot", "x in y")
    cached = list((ws.state_dir / "cache").glob("examples-*.npy"))
    assert len(cached) == 1
    path = ws.dataset_dir("units") / "examples.jsonl"
    path.write_text(path.read_text() + json.dumps({"input": "nine feet in metres", "output": "2.7 m"}) + "\n")
    shown = [m["content"] for m in prepare(ws, "few-shot", "nine feet in metres").messages[1:-1:2]]
    assert len(list((ws.state_dir / "cache").glob("examples-*.npy"))) == 2
    assert "nine feet in metres" not in shown  # the asked question itself is still excluded


def test_few_shot_without_examples_says_what_to_add(tmp_path):
    ws = make_workspace(tmp_path / "w")
    (ws.dataset_dir("units") / "examples.jsonl").unlink()
    with pytest.raises(DataError, match="no examples"):
        prepare(ws, "few-shot", "q")


def test_rag_numbers_contexts_and_keeps_them(ws):
    ws.settings.pipelines["rag"].context = "chunks"
    retriever = ListRetriever(ws, "units")
    prepared = prepare(ws, "rag", "how many feet?", retriever_factory=lambda w, d: retriever)
    assert retriever.queries == [("how many feet?", 3)]
    assert [c.source for c in prepared.contexts] == ["doc1.md", "doc2.md", "doc3.md"] and prepared.evidence == []
    assert prepared.messages[0] == {"role": "system", "content": SYSTEM}
    user = prepared.messages[1]["content"]  # the context sits in the user turn, right before the question
    assert user.startswith("[1] (doc1.md) chunk 1 text") and "[3] (doc3.md)" in user
    assert user.endswith("Question: how many feet?")


class SentenceRetriever(ListRetriever):
    def search(self, query, k):
        texts = ["One metre is 3.28 feet. Metres are SI units.", "A foot is 12 inches long. Inches are small."]
        return [SimpleNamespace(source=f"doc{i}.md", chunk_id=f"doc{i}#0", text=t, score=1.0) for i, t in enumerate(texts)]


def test_rag_sentences_put_the_best_sentences_in_the_prompt_and_keep_the_chunks(ws):
    ws.settings.pipelines["rag"].sentences = 2
    prepared = prepare(ws, "rag", "How many feet is one metre?", retriever_factory=SentenceRetriever)
    assert [e.text for e in prepared.evidence][0] == "One metre is 3.28 feet."
    assert len(prepared.evidence) == 2 and len(prepared.contexts) == 2  # contexts stay the retrieved chunks
    assert "[1] One metre is 3.28 feet.\n[2]" in prepared.messages[-1]["content"]
    # chunks with no usable sentence (short lines) fall back to the chunks themselves
    fallback = prepare(ws, "rag", "how many feet?", retriever_factory=ListRetriever)
    assert fallback.evidence == [] and "[1] (doc1.md) chunk 1 text" in fallback.messages[-1]["content"]


def test_rag_without_index_says_run_sandbox_index(ws):
    with pytest.raises(IndexStateError) as err:
        prepare(ws, "rag", "q")  # the real Retriever over an empty Chroma folder
    assert "sandbox index units" in str(err.value)


def test_fine_tuned_sends_only_short_prompt(tmp_path):
    ws = make_workspace(tmp_path / "w", toml='[datasets.units]\nfine_tuned_model = "ft:base:units:1"\n')
    prepared = prepare(ws, "fine-tuned", "four metres in feet")
    assert prepared.model == "ft:base:units:1"
    assert prepared.messages == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "four metres in feet"}]


def test_fine_tuned_without_model_says_how_to_get_one(ws):
    with pytest.raises(ConfigError) as err:
        prepare(ws, "fine-tuned", "q")
    assert "No fine-tuned model for dataset 'units'" in str(err.value) and "sandbox finetune start units" in str(err.value)
