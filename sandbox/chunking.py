"""Structure-aware chunking, sized in the embedding model's own tokens.

A document's blocks are grouped into sections (a heading and the body under it);
a chunk never crosses a section boundary. Inside a section, sentences are packed
greedily up to the token budget, preferring to break between paragraphs, and the
next chunk repeats the last sentences (up to ``overlap`` tokens) for continuity.
Every chunk is an exact span ``doc.text[start:end]`` so answers can cite it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable

from pydantic import BaseModel

from sandbox.corpus import Document

CHUNKER_VERSION = "2"  # 2: tables from HTML and DOCX arrive as Markdown tables
# bump when chunk boundaries or chunk text change, so indexes re-chunk
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9À-Ý])|\n+")


class Chunk(BaseModel):
    id: str
    source: str
    title: str
    heading: str
    text: str
    start: int
    end: int
    ordinal: int
    doc_hash: str
    tokens: int

    def embed_text(self) -> str:
        """What is embedded and keyword-indexed: the text under its title and heading path,
        so a paragraph that never repeats its section's topic still matches it."""
        return with_context(self.text, self.title, self.heading)


def with_context(text: str, title: str, heading: str) -> str:
    """``text`` under its title and heading path; the keyword index rebuilds it from stored metadata."""
    context = _join_context(title, heading)
    return f"{context}\n{text}" if context else text


def _join_context(title: str, heading: str) -> str:
    parts: list[str] = []
    for part in [title, *heading.split(" > ")]:
        if part and part not in parts:
            parts.append(part)
    return " > ".join(parts)


class _Unit(BaseModel):
    start: int
    end: int
    tokens: int = 0
    para_start: bool = False  # first sentence of a paragraph: a good place to break


def chunk_id(source: str, doc_hash: str, ordinal: int) -> str:
    """Deterministic: the same document version always yields the same ids."""
    return f"{hashlib.sha1(source.encode()).hexdigest()[:12]}-{doc_hash[:12]}-{ordinal:05d}"


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, end))
    out = []
    for a, b in spans:  # trim whitespace so spans hold text only
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def _split_long(text: str, unit: _Unit, budget: int, count: Callable[[list[str]], list[int]]) -> list[_Unit]:
    """A sentence longer than the budget is cut into word windows that fit."""
    words = [(m.start() + unit.start, m.end() + unit.start) for m in re.finditer(r"\S+", text[unit.start : unit.end])]
    per_word = unit.tokens / max(len(words), 1)
    size = max(1, int(budget * 0.9 / max(per_word, 1e-6)))
    windows = [words[i : i + size] for i in range(0, len(words), size)]
    spans = [(w[0][0], w[-1][1]) for w in windows]
    counts = count([text[a:b] for a, b in spans])
    return [_Unit(start=a, end=b, tokens=n, para_start=unit.para_start and i == 0) for i, ((a, b), n) in enumerate(zip(spans, counts))]


def _sections(doc: Document) -> list[tuple[str, list[tuple[int, int, bool]]]]:
    """(heading path, [(start, end, is_heading)]) per section; a heading with no body joins the next."""
    sections: list[tuple[str, list[tuple[int, int, bool]]]] = []
    path: list[tuple[int, str]] = []
    current: list[tuple[int, int, bool]] = []
    heading = ""
    for block in doc.blocks:
        if block.level:
            if any(not is_heading for _, _, is_heading in current):
                sections.append((heading, current))
                current = []
            path = [(lvl, t) for lvl, t in path if lvl < block.level] + [(block.level, block.text.strip())]
            heading = " > ".join(t for _, t in path)
            current.append((block.start, block.end, True))
        else:
            current.append((block.start, block.end, False))
    if current:
        sections.append((heading, current))
    return sections


def chunk_document(
    doc: Document,
    doc_hash: str,
    count_tokens: Callable[[list[str]], list[int]],
    chunk_tokens: int = 200,
    overlap: int = 40,
    model_max_tokens: int = 256,
) -> list[Chunk]:
    text = doc.text
    sections = _sections(doc)
    units_by_section: list[list[_Unit]] = []
    for _, blocks in sections:
        units = []
        for a, b, is_heading in blocks:
            spans = [(a, b)] if is_heading else _sentences(text, a, b)
            units += [_Unit(start=s, end=e, para_start=i == 0) for i, (s, e) in enumerate(spans)]
        units_by_section.append(units)
    flat = [u for units in units_by_section for u in units]
    for unit, n in zip(flat, count_tokens([text[u.start : u.end] for u in flat])):
        unit.tokens = n

    chunks: list[Chunk] = []
    for (heading, _), units in zip(sections, units_by_section):
        context_tokens = count_tokens([_join_context(doc.title, heading)])[0] + 3  # + [CLS], [SEP], newline
        budget = max(16, min(chunk_tokens, model_max_tokens - context_tokens))
        fitted: list[_Unit] = []
        for unit in units:
            fitted += _split_long(text, unit, budget, count_tokens) if unit.tokens > budget else [unit]
        for start, end, tokens in _pack(fitted, budget, overlap):
            chunks.append(
                Chunk(
                    id=chunk_id(doc.source, doc_hash, len(chunks)),
                    source=doc.source,
                    title=doc.title,
                    heading=heading,
                    text=text[start:end],
                    start=start,
                    end=end,
                    ordinal=len(chunks),
                    doc_hash=doc_hash,
                    tokens=tokens,
                )
            )
    return chunks


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[tuple[int, int, int]]:
    """Greedy packing → (start, end, tokens) spans; breaks at a paragraph start when that
    keeps at least half the budget, and carries up to ``overlap`` tokens into the next chunk."""
    spans: list[tuple[int, int, int]] = []
    current: list[_Unit] = []
    for unit in units:
        if current and sum(u.tokens for u in current) + unit.tokens > budget:
            cut = len(current)
            for i in range(len(current) - 1, 0, -1):
                if current[i].para_start and sum(u.tokens for u in current[:i]) >= budget // 2:
                    cut = i
                    break
            emitted, rest = current[:cut], current[cut:]
            spans.append((emitted[0].start, emitted[-1].end, sum(u.tokens for u in emitted)))
            tail: list[_Unit] = []
            for u in reversed(emitted[1:] if len(emitted) > 1 else []):
                if sum(t.tokens for t in tail) + u.tokens > overlap:
                    break
                tail.insert(0, u)
            current = tail + rest
            while current and sum(u.tokens for u in current) + unit.tokens > budget:
                current.pop(0)  # overlap must never push a chunk over budget
        current.append(unit)
    if current:
        spans.append((current[0].start, current[-1].end, sum(u.tokens for u in current)))
    return spans
