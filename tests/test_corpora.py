"""The demo datasets under corpora/: formats, sizes, and no leakage between splits.

Stdlib only and fast: these run in every CI job, before any model is loaded.
"""

from __future__ import annotations

import html.parser
import importlib.util
import json
import re
import unicodedata
from pathlib import Path

import pytest

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
DATASETS = ["knowledge", "format", "instructions"]
ROLES = {"system", "user", "assistant"}
QUESTION_KEYS = {"id", "question", "reference", "tags", "source"}
MINIMUMS = {  # dataset: (examples, questions)
    "knowledge": (60, 40),
    "format": (300, 50),
    "instructions": (30, 30),
}
NEAR_DUPLICATE = 0.8


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{number}: blank line"
        rows.append(json.loads(line))
    return rows


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.findall(r"\w+", text))


def tokens(text: str) -> set[str]:
    return set(normalise(text).split())


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def user_inputs(examples: list[dict]) -> list[str]:
    return [m["content"] for row in examples for m in row["messages"] if m["role"] == "user"]


class _TextExtractor(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def pdf_text(path: Path) -> str:
    """Text of the uncompressed PDFs our generator writes: the strings shown with Tj."""
    raw = path.read_bytes()
    strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", raw)
    return "\n".join(re.sub(rb"\\(.)", rb"\1", s).decode("cp1252") for s in strings)


def document_text(path: Path) -> str:
    if path.suffix == ".pdf":
        return pdf_text(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".html", ".htm"):
        parser = _TextExtractor()
        parser.feed(text)
        return " ".join(parser.parts)
    return text


def load_format_schema() -> dict:
    spec = importlib.util.spec_from_file_location("format_make_examples", CORPORA / "format" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"keys": module.KEYS, "schema": module.SCHEMA}


@pytest.fixture(scope="module", params=DATASETS)
def dataset(request) -> dict:
    root = CORPORA / request.param
    return {
        "name": request.param,
        "root": root,
        "examples": read_jsonl(root / "examples.jsonl"),
        "questions": read_jsonl(root / "questions.jsonl"),
    }


def test_dataset_layout(dataset):
    root = dataset["root"]
    assert (root / "docs").is_dir()
    assert any(p.is_file() for p in (root / "docs").rglob("*"))
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "Provenance" in readme and "fictional" in readme


def test_examples_are_chat_records(dataset):
    for number, row in enumerate(dataset["examples"], 1):
        where = f"{dataset['name']}/examples.jsonl:{number}"
        assert set(row) == {"messages"}, where
        messages = row["messages"]
        assert isinstance(messages, list) and messages, where
        for message in messages:
            assert set(message) == {"role", "content"}, where
            assert message["role"] in ROLES, where
            assert isinstance(message["content"], str) and message["content"].strip(), where
        roles = [m["role"] for m in messages]
        assert roles[-1] == "assistant" and "user" in roles, where
        assert roles.count("system") <= 1 and (roles[0] == "system" or "system" not in roles), where


def test_questions_match_contract(dataset):
    ids = [q["id"] for q in dataset["questions"]]
    assert len(ids) == len(set(ids)), "question ids must be unique"
    docs = dataset["root"] / "docs"
    for q in dataset["questions"]:
        assert set(q) <= QUESTION_KEYS and {"id", "question"} <= set(q), q
        assert isinstance(q["id"], str) and q["id"]
        assert isinstance(q["question"], str) and q["question"].strip()
        assert isinstance(q.get("reference", ""), str) and q.get("reference", "x").strip()
        assert isinstance(q.get("tags", []), list) and all(isinstance(t, str) for t in q.get("tags", []))
        if "source" in q:
            assert (docs / q["source"]).is_file(), f"{q['id']}: source {q['source']} not in docs/"


def test_minimum_sizes(dataset):
    min_examples, min_questions = MINIMUMS[dataset["name"]]
    assert len(dataset["examples"]) >= min_examples
    assert len(dataset["questions"]) >= min_questions
    assert all("reference" in q for q in dataset["questions"])


def test_no_question_leaks_into_examples(dataset):
    inputs = user_inputs(dataset["examples"])
    assert len({normalise(t) for t in inputs}) == len(inputs), "duplicate example inputs"
    example_tokens = [tokens(t) for t in inputs]
    example_norms = {normalise(t) for t in inputs}
    for q in dataset["questions"]:
        assert normalise(q["question"]) not in example_norms, q["id"]
        q_tokens = tokens(q["question"])
        worst = max(jaccard(q_tokens, e) for e in example_tokens)
        assert worst < NEAR_DUPLICATE, f"{q['id']} is a near-duplicate of an example (Jaccard {worst:.2f})"


def test_no_question_verbatim_in_docs(dataset):
    corpus = " ".join(normalise(document_text(p)) for p in sorted((dataset["root"] / "docs").rglob("*")) if p.is_file())
    for q in dataset["questions"]:
        assert normalise(q["question"]) not in corpus, f"{q['id']} appears verbatim in docs/"


def test_questions_are_distinct(dataset):
    questions = [tokens(q["question"]) for q in dataset["questions"]]
    for i, a in enumerate(questions):
        for b in questions[i + 1:]:
            assert jaccard(a, b) < 1.0 or not a


def test_knowledge_docs_are_big_and_mixed():
    docs = [p for p in (CORPORA / "knowledge" / "docs").rglob("*") if p.is_file()]
    assert len(docs) >= 25
    assert {".md", ".txt", ".html", ".pdf"} <= {p.suffix for p in docs}
    words = sum(len(re.findall(r"\w+", document_text(p))) for p in docs)
    assert words >= 15_000, words
    pdf = next(p for p in docs if p.suffix == ".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-") and b"/Helvetica" in pdf.read_bytes()
    assert len(pdf_text(pdf).split()) > 300


def test_knowledge_questions_cite_sources_and_some_need_two():
    questions = read_jsonl(CORPORA / "knowledge" / "questions.jsonl")
    assert all(q.get("source") for q in questions)
    assert sum("multi-doc" in q.get("tags", []) for q in questions) >= 3
    sources = {q["source"] for q in questions}
    assert len(sources) >= 20, "questions should spread over the knowledge base"


def test_knowledge_answers_are_short_prose():
    for row in read_jsonl(CORPORA / "knowledge" / "examples.jsonl"):
        answer = row["messages"][-1]["content"]
        assert not answer.lstrip().startswith(("{", "[")), answer
        assert len(re.findall(r"[.!?](?:\s|$)", answer)) <= 2 and len(answer.split()) <= 45, answer


def test_format_outputs_are_strict_json_with_enumerated_values():
    spec = load_format_schema()
    keys, schema = spec["keys"], spec["schema"]
    rows = read_jsonl(CORPORA / "format" / "examples.jsonl")
    outputs = [row["messages"][-1]["content"] for row in rows]
    outputs += [q["reference"] for q in read_jsonl(CORPORA / "format" / "questions.jsonl")]
    for text in outputs:
        assert "\n" not in text
        record = json.loads(text)
        assert list(record) == keys, text
        for key, value in record.items():
            assert value in schema[key] and type(value) is type(schema[key][0]), f"{key}={value!r}"
        assert (record["status"] == "deferred") == (record["action"] == "deferred") == (record["mel_cat"] != "none")
        assert (record["status"] == "open") == (record["action"] == "troubleshooting")
        assert not record["aog"] or record["status"] == "open"
    for row in rows:
        assert row["messages"][0]["role"] == "system"
        user = row["messages"][1]["content"]
        record = json.loads(row["messages"][-1]["content"])
        assert record["aircraft"].lower() in user.lower()
        assert len(user.split()) <= 60


def test_format_docs_describe_the_schema():
    docs = CORPORA / "format" / "docs"
    assert {"schema.md", "style-guide.md", "glossary.md"} <= {p.name for p in docs.iterdir()}
    schema_doc = (docs / "schema.md").read_text(encoding="utf-8")
    for key, values in load_format_schema()["schema"].items():
        assert f"`{key}`" in schema_doc
        for value in values:
            if isinstance(value, str):
                assert value in schema_doc, value


def test_instructions_outputs_are_one_label_and_a_reason():
    pattern = re.compile(r"^(billing|technical|account) - [a-z].{5,120}\.$")
    rows = read_jsonl(CORPORA / "instructions" / "examples.jsonl")
    answers = [row["messages"][-1]["content"] for row in rows]
    answers += [q["reference"] for q in read_jsonl(CORPORA / "instructions" / "questions.jsonl")]
    for answer in answers:
        assert pattern.match(answer), answer
    labels = [a.split(" - ")[0] for a in answers]
    assert min(labels.count(label) for label in ("billing", "technical", "account")) >= 10


def test_corpora_under_ten_megabytes():
    total = sum(p.stat().st_size for p in CORPORA.rglob("*") if p.is_file())
    assert total < 10 * 1024 * 1024, total
