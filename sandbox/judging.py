"""One side-by-side comparison as a judge sees it, and the rules of a vote on it.

No UI here: the app's Compare tab and its ``ask``/``judge`` API endpoints call these functions
(through ``AppContext``, which keeps the comparisons it showed). The shown order (A, B, C) is
decided on the server, so a client can never claim a different order than the one it was shown.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field

from sandbox import PIPELINES
from sandbox.compare import Delta, Done
from sandbox.errors import SandboxError
from sandbox.records import Judgment, RunRecord, new_id
from sandbox.store import Store

LABELS = ("A", "B", "C", "D", "E")
TAGS = ("correct", "well-formatted", "hallucinated", "incomplete", "off-topic", "wrong-format", "verbose")
VERDICTS = {"tie": "tie", "all-bad": "all-bad", "all bad": "all-bad"}
STREAM_EVERY_S = 0.05  # at most ~20 UI updates a second; the browser cannot show more anyway


class VoteRefused(SandboxError):
    """A vote that cannot be recorded (no name, answers not finished, already judged, bad ranks)."""


@dataclass
class Comparison:
    """The state of one question answered by several pipelines, shown in ``order``."""

    dataset: str
    question: str
    order: list[str]
    blind: bool = True
    question_id: str = ""
    reference: str | None = None
    key: str = field(default_factory=new_id)
    texts: dict[str, str] = field(default_factory=dict)
    records: dict[str, RunRecord] = field(default_factory=dict)
    judged: bool = False
    failure: str = ""

    @property
    def done(self) -> bool:
        return all(p in self.records for p in self.order)

    @property
    def comparison_id(self) -> str:
        ids = [r.comparison_id for r in self.records.values() if r.comparison_id]
        return ids[0] if ids else self.key

    @property
    def revealed(self) -> bool:
        return self.judged or not self.blind

    def label(self, pipeline: str) -> str:
        return LABELS[self.order.index(pipeline)]

    def pipeline_for(self, label: str) -> str:
        label = label.strip().upper()
        if label in LABELS[: len(self.order)]:
            return self.order[LABELS.index(label)]
        if label.lower() in self.order:  # API clients that are not blind may name the pipeline
            return label.lower()
        raise VoteRefused(f"Unknown answer {label!r}.", f"Use one of {', '.join(LABELS[: len(self.order)])}.")


def new_comparison(
    dataset: str, question: str, *, blind: bool, rng: random.Random, question_id: str = "",
    reference: str | None = None, pipelines: Sequence[str] = PIPELINES,
) -> Comparison:
    question = (question or "").strip()
    if not question:
        raise SandboxError("The question is empty.", "Type a question or pick one from the list.")
    if not dataset:
        raise SandboxError("No dataset selected.", "Pick a dataset at the top, or create one in the Data tab.")
    order = list(pipelines)
    if blind:  # shuffled so position never tells the judge which pipeline is which
        rng.shuffle(order)
    return Comparison(dataset, question, order, blind, question_id, reference)


async def run_comparison(comparison: Comparison, stream: AsyncIterable) -> AsyncIterator[Comparison]:
    """Follow the pipelines' one event stream (``compare.stream_compare``); yields the comparison as answers grow."""
    last = 0.0
    try:
        async for event in stream:
            if isinstance(event, Delta):
                comparison.texts[event.pipeline] = comparison.texts.get(event.pipeline, "") + event.text
                if time.monotonic() - last < STREAM_EVERY_S:
                    continue
            elif isinstance(event, Done):
                comparison.records[event.record.pipeline] = event.record
                comparison.texts[event.record.pipeline] = event.record.response
            last = time.monotonic()
            yield comparison
    except SandboxError as exc:  # e.g. a broken prompt file: every unfinished column says why
        comparison.failure = str(exc)
        for pipeline in comparison.order:
            comparison.records.setdefault(
                pipeline, RunRecord(pipeline=pipeline, user_input=comparison.question, dataset=comparison.dataset,
                                    error=str(exc))
            )
    yield comparison


def _ranks(comparison: Comparison, ranks: dict[str, int | None]) -> dict[str, int]:
    given = {comparison.pipeline_for(label): int(rank) for label, rank in (ranks or {}).items() if rank not in (None, "")}
    if not given:
        return {}
    n = len(comparison.order)
    if len(given) != n or sorted(given.values()) != list(range(1, n + 1)):
        raise VoteRefused(
            "Ranks must give every answer a different place.", f"Rank all {n} answers 1 (best) to {n}, or none."
        )
    return given


def judgment_for(
    comparison: Comparison | None, *, judge: str, verdict: str = "", ranks: dict[str, int | None] | None = None,
    ratings: dict[str, int | None] | None = None, tags: dict[str, list[str]] | None = None, comment: str = "",
) -> Judgment:
    """The judgment a vote means, or VoteRefused saying why not.

    ``verdict`` is a label ("A"), "tie" or "all-bad"; ranks, ratings and tags are keyed by label."""
    judge = (judge or "").strip()
    if comparison is None:
        raise VoteRefused("There is nothing to judge yet.", "Ask a question first.")
    if not judge:
        raise VoteRefused("Please enter your name before voting.", "Type it in 'Your name' at the top; it is remembered.")
    if not comparison.done:
        raise VoteRefused("The answers are still arriving.", "Wait until all answers have finished, then vote.")
    rank_map = _ranks(comparison, ranks or {})
    kind, best = _verdict(comparison, (verdict or "").strip(), rank_map)
    return Judgment(
        comparison_id=comparison.comparison_id, dataset=comparison.dataset, question_id=comparison.question_id,
        user_input=comparison.question, run_ids={p: r.id for p, r in comparison.records.items()},
        shown_order=list(comparison.order), blind=comparison.blind, verdict=kind, best=best, ranks=rank_map,
        ratings=_ratings(comparison, ratings or {}), comment=(comment or "").strip(), judge=judge,
        tags={comparison.pipeline_for(label): sorted(set(values)) for label, values in (tags or {}).items() if values},
    )


def _verdict(comparison: Comparison, verdict: str, rank_map: dict[str, int]) -> tuple[str, str | None]:
    if verdict.lower() in VERDICTS:
        kind, best = VERDICTS[verdict.lower()], None
    elif verdict:
        kind, best = "best", comparison.pipeline_for(verdict)
    elif rank_map:
        kind, best = "best", min(rank_map, key=rank_map.get)
    else:
        raise VoteRefused("No verdict given.", "Pick the best answer, 'Tie' or 'All bad' (or rank all answers).")
    if best and rank_map and rank_map[best] != 1:
        raise VoteRefused(f"Answer {comparison.label(best)} is picked as best but not ranked 1.", "Make the ranks agree with the pick.")
    return kind, best


def _ratings(comparison: Comparison, ratings: dict[str, int | None]) -> dict[str, int]:
    rating_map = {}
    for label, value in ratings.items():
        if value in (None, ""):
            continue
        if not 1 <= int(value) <= 5:
            raise VoteRefused(f"Rating {value} for {label} is out of range.", "Rate from 1 (bad) to 5 (excellent).")
        rating_map[comparison.pipeline_for(label)] = int(value)
    return rating_map


def record_vote(store: Store, lock: threading.Lock, comparison: Comparison | None, **vote) -> Judgment:
    """Store the judgment a vote means (see ``judgment_for``); a comparison is judged once."""
    judgment = judgment_for(comparison, **vote)
    with lock:  # check-then-insert must not interleave with a second click
        if comparison.judged or store.is_judged(judgment.comparison_id):
            raise VoteRefused("This comparison has already been judged.", "Ask another question to vote again.")
        store.add_judgment(judgment)
        comparison.judged = True
    return judgment
