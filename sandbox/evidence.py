"""Evidence sentences: the few sentences of the retrieved chunks that answer the question.

A small model handed four 200-token chunks mostly paraphrases the wrong part of them; handed the four
best *sentences* (``[pipelines.rag] context = "sentences"``) it states the fact, with a fraction of the
prompt tokens (benchmarks/bench_rag_context.py, numbers in benchmarks/RESULTS.md).

Tables arrive as Markdown pipe tables (``sandbox.corpus.markdown_table``) and are flattened row by row to
``header: cell; header: cell``, so each row is a sentence that says what its numbers are. Every candidate
sentence gets two rankings, lexical (the question's content terms it contains, weighted by how rare they
are among the candidates) and embedding cosine to the question, fused by reciprocal rank like the
retriever's hybrid search: no calibration between the two scales is needed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from sandbox.embeddings import encode_queries
from sandbox.metrics import fact_terms, normalize
from sandbox.records import Context, Evidence

RRF_K = 10  # as in sandbox.retrieval: a strong first place on either side counts
MIN_WORDS = 4  # shorter sentences are captions or labels, not evidence
HEADING_WORDS = 6  # a line this short without a sentence end is a heading: it names a topic, states no fact
_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9À-Ý])")
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def flatten_table(lines: list[str]) -> list[str]:
    """Pipe-table lines -> one sentence per row, ``header: cell; ...`` when the header is in ``lines``
    (a chunk may start mid-table; then the row's cells are joined with commas)."""
    header: list[str] = []
    if len(lines) > 1 and _TABLE_RULE.match(lines[1]):
        header, lines = _cells(lines[0]), lines[2:]
    rows = []
    for line in lines:
        cells = _cells(line)
        if header and len(cells) == len(header):
            rows.append("; ".join(f"{h}: {c}" for h, c in zip(header, cells) if c))
        else:
            rows.append(", ".join(c for c in cells if c))
    return [r for r in rows if r]


def sentences(text: str) -> list[str]:
    """The sentences of a chunk: prose split at sentence ends, one per list item, one per table row."""
    out: list[str] = []
    table: list[str] = []
    for line in [*text.replace("**", "").replace("__", "").splitlines(), ""]:  # bold markers are noise
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            out += flatten_table(table)
            table = []
        item = bool(_BULLET.match(line))
        line = _BULLET.sub("", line).strip()
        if not item and len(line.split()) <= HEADING_WORDS and not line.endswith((".", "!", "?", ":", ";", ")")):
            continue
        out += [s.strip() for s in _SPLIT.split(line) if s.strip()]
    return [s for s in out if len(s.split()) >= MIN_WORDS]


def _ranks(scores: Sequence[float]) -> dict[int, int]:
    """Index -> rank (1 = best) of the positive scores; zeros are unranked (they say nothing)."""
    order = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))
    return {i: rank for rank, i in enumerate(order, start=1)}


def lexical_scores(question: str, candidates: Sequence[str]) -> list[float]:
    """Share of the question's content-term weight each candidate contains; a term's weight is its
    inverse document frequency among the candidates, so "Lisbon" counts more than "office"."""
    asked = set(fact_terms(question))
    terms = [set(fact_terms(c)) & asked for c in candidates]
    df = Counter(t for ts in terms for t in ts)
    idf = {t: math.log(1 + len(candidates) / (1 + df[t])) for t in asked}
    total = sum(idf.values()) or 1.0
    return [sum(idf[t] for t in ts) / total for ts in terms]


def select(question: str, contexts: Sequence[Context], embedder, n: int) -> list[Evidence]:
    """The ``n`` best sentences of ``contexts`` for ``question``, best first."""
    candidates: list[tuple[str, str]] = []  # (source, sentence), first occurrence of each sentence
    seen: set[str] = set()
    for context in contexts:
        for sentence in sentences(context.text):
            key = normalize(sentence)
            if key not in seen:
                seen.add(key)
                candidates.append((context.source, sentence))
    if not candidates or n <= 0:
        return []
    texts = [s for _, s in candidates]
    query = np.asarray(encode_queries(embedder, [question]))[0]
    cosines = (np.asarray(embedder.encode(texts)) @ query).tolist()
    lexical, semantic = _ranks(lexical_scores(question, texts)), _ranks(cosines)
    fused = [sum(1 / (RRF_K + r[i]) for r in (lexical, semantic) if i in r) for i in range(len(texts))]
    best = sorted(range(len(texts)), key=lambda i: (-fused[i], i))[:n]
    return [Evidence(source=candidates[i][0], text=candidates[i][1], score=round(fused[i], 6)) for i in best]


def format_evidence(evidence: Sequence[Evidence]) -> str:
    """Numbered for the prompt, one per line: ``[1] sentence``. The sources stay out of the prompt (a path per
    line cost the small model a sixth of its prompt and no fact recall); the app shows them under the answer."""
    return "\n".join(f"[{i}] {e.text}" for i, e in enumerate(evidence, start=1))


def supporting(answer: str, evidence: Sequence[Evidence]) -> list[int]:
    """Indices of the evidence the answer draws from: the sentence(s) sharing the most of the
    answer's content terms (none when the answer shares nothing with any)."""
    said = set(fact_terms(answer))
    overlap = [len(said & set(fact_terms(e.text))) for e in evidence]
    top = max(overlap, default=0)
    return [i for i, o in enumerate(overlap) if o == top] if top else []
