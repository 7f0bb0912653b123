"""Data signals: what a dataset's own files say about the right approach, before any eval.

Each signal is a number the advisor compares against a documented threshold:
- ``n_examples``: input→output pairs (the framework: ≥50–100 to fine-tune, 500+ recommended).
- ``format_consistency`` / ``format_fields``: how many outputs share the dominant structure
  (the JSON key set, or the sequence of labelled lines), and how many fields it has. A strict
  multi-field format is what fine-tuning teaches best; a one-line label a prompt can ask for.
- ``domain_share``: share of example words that are rare in general English
  (wordfreq Zipf frequency < ``RARE_ZIPF``): jargon a base model mangles.
- ``knowledge_need``: share of questions whose reference answer carries *facts*: informative terms
  (rare in English, or numbers) that are not in the question, not part of the outputs' recurring
  vocabulary (enum values, labels, template words), yet found in the documents. Those facts must
  come from the documents at answer time: RAG's job. Falls back to the examples when no
  question has a reference.
- prompt sizes in tokens (estimated at ~4 characters a token; labelled as estimates) for the cost rule.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sandbox.corpus import load_documents
from sandbox.examples import load_examples
from sandbox.metrics import STOPWORDS, content_terms, parse_json, words
from sandbox.questions import load_questions
from sandbox.text import number

RARE_ZIPF = 3.0
CHARS_PER_TOKEN = 4.0  # rough for English with BPE tokenizers; used only when nothing is measured
_LETTERS = re.compile(r"[a-z]{2,}")
_LABEL = re.compile(r"^\s*(?:[#>*\-\d.)]+\s*)?([A-Za-z][A-Za-z0-9 _/()-]{0,40}?)\s*:(?:\s|$)")


class DataSignals(BaseModel):
    dataset: str
    n_examples: int = 0
    n_questions: int = 0
    n_docs: int = 0
    json_share: float = Field(0.0, description="share of example outputs that parse as JSON")
    format_consistency: float = Field(0.0, description="share of outputs with the dominant structure")
    format_fields: float = Field(0.0, description="fields in the dominant structure (JSON keys / labelled lines)")
    domain_share: float = Field(0.0, description="share of example words rare in general English")
    domain_terms: list[str] = Field(default_factory=list, description="most frequent rare words")
    knowledge_need: float | None = Field(None, description="share of questions needing facts from the docs")
    knowledge_basis: str = Field("", description="'questions' or 'examples': what knowledge_need was measured on")
    fact_terms: list[str] = Field(default_factory=list, description="examples of doc facts the answers need")
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    system_tokens: float = 0.0
    few_shot_prompt_tokens: float = 0.0
    rag_prompt_tokens: float = 0.0
    fine_tuned_prompt_tokens: float = 0.0
    tokens_estimated: bool = True
    notes: list[str] = Field(default_factory=list)


# loading ---------------------------------------------------------------------------
class _Pair(BaseModel):
    system: str = ""
    input: str
    output: str


def load_pairs(path: Path) -> list[_Pair]:
    """Example pairs through ``sandbox.examples`` (which validates and names bad lines)."""
    return [_Pair(system=ex.system, input=ex.input, output=ex.output) for ex in load_examples(path)]


def load_question_rows(path: Path) -> list[dict[str, Any]]:
    return [q.model_dump() if hasattr(q, "model_dump") else dict(q) for q in load_questions(path)]


def doc_texts(docs_dir: Path) -> list[str]:
    """Plain text of the documents, read by the same loaders the index uses."""
    if not docs_dir.is_dir():
        return []
    docs, _skipped = load_documents(docs_dir)  # unreadable files are the index's to report
    return [d.text for d in docs if d.text.strip()]


# signals -------------------------------------------------------------------------------
@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_rare(word: str) -> bool:
    return zipf(word) < RARE_ZIPF


def tokens(text: str) -> float:
    return len(text) / CHARS_PER_TOKEN


def structure(output: str) -> tuple[str, ...]:
    """The layout signature of one output: sorted JSON keys, or the labels of its lines."""
    value = parse_json(output)
    if isinstance(value, dict):
        return ("json",) + tuple(sorted(value))
    if value is not None:
        return ("json-array",)
    lines = [ln for ln in output.splitlines() if ln.strip()]
    labels = tuple((m.group(1).strip().lower() if (m := _LABEL.match(ln)) else "") for ln in lines)
    return ("text",) + labels if any(labels) else ("text",)


def format_signals(outputs: list[str]) -> tuple[float, float, float]:
    """(json_share, consistency, fields) of the outputs."""
    if not outputs:
        return 0.0, 0.0, 0.0
    json_share = sum(parse_json(o) is not None for o in outputs) / len(outputs)
    shapes = Counter(structure(o) for o in outputs)
    top, count = shapes.most_common(1)[0]
    fields = len(top) - 1 if top[0] == "json" else sum(bool(label) for label in top[1:])
    return json_share, count / len(outputs), float(fields)


def domain_signals(texts: list[str]) -> tuple[float, list[str]]:
    """Share of alphabetic words (≥2 letters) rare in general English, and the commonest ones."""
    tally = Counter(w for t in texts for w in _LETTERS.findall(t.lower()))
    total = sum(tally.values())
    if not total:
        return 0.0, []
    rare = {w: n for w, n in tally.items() if is_rare(w)}
    top = [w for w, _ in Counter(rare).most_common(8)]
    return sum(rare.values()) / total, top


def _informative(term: str) -> bool:
    return any(ch.isdigit() for ch in term) or is_rare(term) or any(is_rare(p) for p in _LETTERS.findall(term))


def canonical(term: str) -> str:
    """One spelling per number (``15.60`` and ``15.6`` are the same fact, see ``text.number``)."""
    return number(term) or term


def knowledge_signal(pairs: list[tuple[str, str]], outputs: list[str], doc_vocab: set[str]) -> tuple[float, list[str]]:
    """Share of (question, reference) pairs whose reference needs facts found only in the docs."""
    if not pairs or not doc_vocab:
        return 0.0, []
    # Recurring output vocabulary (labels, enum values, template words) is learnable from
    # examples, so it is not knowledge: a term counts only if at most one example output uses it.
    seen = Counter(canonical(t) for o in outputs for t in set(words(o)))
    recurring = {t for t, n in seen.items() if n >= 2}
    needing, facts = 0, Counter()
    for question, reference in pairs:
        asked = set(words(question))
        found = [t for t in map(canonical, content_terms(reference))
                 if t not in asked and t not in recurring and t not in STOPWORDS and _informative(t) and t in doc_vocab]
        needing += bool(found)
        facts.update(found)
    return needing / len(pairs), [t for t, _ in facts.most_common(8)]


def compute_signals(workspace, dataset: str) -> DataSignals:
    """All data signals of one dataset from its files (examples, questions, docs)."""
    folder = workspace.dataset_dir(dataset)
    sig = DataSignals(dataset=folder.name)
    pairs = load_pairs(folder / "examples.jsonl") if (folder / "examples.jsonl").is_file() else []
    if not pairs and (folder / "examples.csv").is_file():
        pairs = load_pairs(folder / "examples.csv")
    questions = load_question_rows(folder / "questions.jsonl") if (folder / "questions.jsonl").is_file() else []
    docs = doc_texts(folder / "docs")
    sig.n_examples, sig.n_questions, sig.n_docs = len(pairs), len(questions), len(docs)
    if not pairs:
        sig.notes.append("No examples: format, domain and few-shot signals are unavailable.")

    outputs = [p.output for p in pairs]
    sig.json_share, sig.format_consistency, sig.format_fields = format_signals(outputs)
    sig.domain_share, sig.domain_terms = domain_signals([p.input for p in pairs] + outputs)

    doc_vocab = {canonical(w) for d in docs for w in words(d)}
    with_ref = [(q["question"], q["reference"]) for q in questions if q.get("reference")]
    basis, qa = ("questions", with_ref) if with_ref else ("examples", [(p.input, p.output) for p in pairs])
    if docs and qa:
        sig.knowledge_need, sig.fact_terms = knowledge_signal(qa, outputs, doc_vocab)
        sig.knowledge_basis = basis
    elif not docs:
        sig.notes.append("No documents in docs/: RAG has nothing to retrieve.")

    _prompt_sizes(sig, workspace, pairs, questions)
    return sig


def _prompt_sizes(sig: DataSignals, workspace, pairs: list[_Pair], questions: list[dict[str, Any]]) -> None:
    """Estimated prompt tokens per call for each pipeline (k from the pipeline settings)."""
    inputs = [p.input for p in pairs] or [q["question"] for q in questions]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    sig.input_tokens = mean([tokens(t) for t in inputs])
    sig.output_tokens = mean([tokens(p.output) for p in pairs]) or 50.0
    sig.system_tokens = mean([tokens(p.system) for p in pairs])
    settings = workspace.settings
    k_shot = settings.pipelines["few-shot"].k
    k_rag = settings.pipelines["rag"].k
    overhead = 8.0  # chat template tokens per message
    sig.few_shot_prompt_tokens = sig.system_tokens + k_shot * (sig.input_tokens + sig.output_tokens + 2 * overhead) + sig.input_tokens + 2 * overhead
    sig.rag_prompt_tokens = sig.system_tokens + k_rag * settings.index.chunk_tokens + sig.input_tokens + 2 * overhead
    sig.fine_tuned_prompt_tokens = sig.system_tokens + sig.input_tokens + 2 * overhead


def signals_json(sig: DataSignals) -> str:
    return json.dumps(sig.model_dump(), indent=2)
