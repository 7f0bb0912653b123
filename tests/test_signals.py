"""Data signals on small made-up datasets (never the demo's)."""

from __future__ import annotations

import json

from sandbox.config import load_workspace
from sandbox.signals import compute_signals, domain_signals, format_signals, knowledge_signal, structure


def _dataset(root, name, examples, questions=(), docs=None):
    folder = root / "corpora" / name
    folder.mkdir(parents=True)
    (folder / "examples.jsonl").write_text("".join(json.dumps({"input": i, "output": o}) + "\n" for i, o in examples))
    if questions:
        (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    if docs:
        (folder / "docs").mkdir()
        for fname, text in docs.items():
            (folder / "docs" / fname).write_text(text)
    return load_workspace(root)


def test_structure_signatures():
    assert structure('{"b": 1, "a": 2}') == ("json", "a", "b")
    assert structure("Summary: x\nRisk: high\nOwner: me") == ("text", "summary", "risk", "owner")
    assert structure("just a sentence") == ("text",)


def test_format_signals_strict_json_vs_mixed():
    strict = [json.dumps({"name": f"n{i}", "qty": i, "unit": "kg"}) for i in range(10)]
    assert format_signals(strict) == (1.0, 1.0, 3.0)
    mixed = strict[:5] + ["free text", "Name: x", '{"other": 1}', "more text here", "ok"]
    json_share, consistency, _ = format_signals(mixed)
    assert json_share == 0.6 and consistency == 0.5


def test_domain_share_detects_jargon():
    plain, _ = domain_signals(["Please send me the invoice for last month, thanks."])
    jargon, terms = domain_signals(["HYD SYS 2 LO PR CAUTION, NFF, IAW AMM 29-11, DEFERRED MEL CAT C"])
    assert plain < 0.05 and jargon > 0.3 and "nff" in terms


def test_knowledge_signal_needs_doc_facts_not_recurring_labels():
    docs = set("the zephyrin pump ships with a 7 year warranty and costs 1450 kroner".split())
    facts = [("How long is the pump warranty?", "The Zephyrin pump has a 7 year warranty."),
             ("What does it cost?", "It costs 1450 kroner.")]
    assert knowledge_signal(facts, [r for _, r in facts], docs)[0] == 1.0
    # the same rare word used as a recurring label in every output is learnable, not knowledge
    labels = [(f"message {i}", "zephyrin - routine request") for i in range(10)]
    assert knowledge_signal(labels, [r for _, r in labels], docs)[0] == 0.0


def test_compute_signals_on_a_made_up_dataset(tmp_path):
    examples = [(f"Order {i} for part XK-{i}", json.dumps({"order": i, "part": f"XK-{i}", "status": "open"})) for i in range(60)]
    questions = [{"id": "1", "question": "Who makes XK parts?", "reference": "Brannholt Works in Tromsvik.", "source": "makers.md"}]
    ws = _dataset(tmp_path, "parts", examples, questions, {"makers.md": "XK parts are made by Brannholt Works in Tromsvik."})
    sig = compute_signals(ws, "parts")
    assert sig.n_examples == 60 and sig.n_questions == 1 and sig.n_docs == 1
    assert sig.json_share == 1.0 and sig.format_fields == 3.0
    assert sig.knowledge_need == 1.0 and sig.knowledge_basis == "questions"
    assert "brannholt" in sig.fact_terms or "tromsvik" in sig.fact_terms
    assert sig.few_shot_prompt_tokens > sig.fine_tuned_prompt_tokens > 0


def test_signals_without_docs_or_questions(tmp_path):
    ws = _dataset(tmp_path, "tiny", [("hi", "hello there")])
    sig = compute_signals(ws, "tiny")
    assert sig.knowledge_need is None and sig.n_docs == 0
    assert any("No documents" in n for n in sig.notes)
