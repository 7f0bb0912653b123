"""Is one pipeline measurably better than another? One test, shared by the advisor and the scoreboard.

Paired when it can be: an eval scores every pipeline on the same questions, so the test is the 95%
bootstrap interval of the per-question difference (``metrics.paired_bootstrap_diff``). What makes a
question easy or hard cancels out, so a steady gap of a few points shows at 60 questions where the two
pipelines' own intervals still overlap (comparing those is a much weaker test than it looks).
Unpaired (judgments' win rates, or too few questions answered by both): the two 95% intervals must
be disjoint. Either way a ``Gap`` is separated when its interval lies above 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pydantic import BaseModel

from sandbox import metrics as M
from sandbox.text import interval_text

SEED = 20240601
MIN_PAIRS = 10  # fewer shared questions than this: a paired bootstrap is too coarse, compare intervals


class Scored(NamedTuple):
    pipeline: str
    mean: float
    low: float
    high: float
    scores: Mapping[str, float | None] | None = None  # question id -> score, when per-question scores exist


class Gap(BaseModel):
    """How far the leader is ahead of one other pipeline."""
    leader: str
    other: str
    diff: float
    low: float
    high: float
    pairs: int = 0  # questions both answered; 0: the two marginal intervals were compared

    @property
    def separated(self) -> bool:
        return self.low > 0

    def text(self) -> str:
        how = f"paired over {self.pairs} questions" if self.pairs else "intervals compared"
        return f"{self.leader} − {self.other} {interval_text(self.diff, self.low, self.high, '+.2f')} ({how})"


def gap(leader: Scored, other: Scored) -> Gap:
    shared = [q for q in (leader.scores or {}) if (other.scores or {}).get(q) is not None
              and leader.scores[q] is not None]
    if len(shared) >= MIN_PAIRS:
        diff, low, high = M.paired_bootstrap_diff([leader.scores[q] for q in shared], [other.scores[q] for q in shared],
                                                  seed=SEED)
        return Gap(leader=leader.pipeline, other=other.pipeline, diff=diff, low=low, high=high, pairs=len(shared))
    return Gap(leader=leader.pipeline, other=other.pipeline, diff=leader.mean - other.mean,
               low=leader.low - other.high, high=leader.high - other.low)


def gaps(rows: Sequence[Scored]) -> tuple[Scored, list[Gap]]:
    """The leader (best mean) and its gap to every other pipeline."""
    ranked = sorted(rows, key=lambda r: r.mean, reverse=True)
    return ranked[0], [gap(ranked[0], other) for other in ranked[1:]]
