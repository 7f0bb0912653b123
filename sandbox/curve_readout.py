"""What a learning curve says, in numbers the advisor and the report use.

- the smallest size whose score lies within the best point's 95% interval ("enough" examples);
- the gain per doubling over the last two points, with a paired bootstrap interval over the same
  questions, and what doubling the largest size is expected to add;
- the curve's shape: ``rising`` (the last doubling's gain is clear of zero), ``levels off`` (a smaller
  size already reaches the best), ``flat`` (the smallest size already does: more examples do not move it).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from sandbox.metrics import paired_bootstrap_diff
from sandbox.text import interval_text

BOOTSTRAP_SEED = 20240601  # as sandbox.evaluate: the same questions resample the same way
RISING, LEVELS_OFF, FLAT = "rising", "levels off", "flat"


class Gain(BaseModel):
    """The expected change of the metric when the training examples double."""

    from_size: int
    to_size: int
    next_size: int = Field(description="twice the largest size: what the expectation is about")
    mean: float
    low: float
    high: float
    n: int = Field(description="questions paired")


class Readout(BaseModel):
    metric: str
    best_size: int
    best: float
    best_low: float
    enough_size: int = Field(description="the smallest size whose score is within the best's 95% interval")
    largest_size: int
    smallest_size: int
    gain: Gain | None = None
    shape: str

    def lines(self) -> list[str]:
        """Plain sentences for the CLI, the UI and the report."""
        out = [f"{self.enough_size} examples already reach the best {self.metric} "
               f"({self.best:.2f} at {self.best_size}) within its 95% interval; the curve is {self.shape} "
               f"from {self.smallest_size} to {self.largest_size} examples."]
        if self.gain:
            g = self.gain
            out.append(f"Doubling to {g.next_size} examples is expected to add "
                       f"{interval_text(g.mean, g.low, g.high, '+.2f')} {self.metric} "
                       f"(the gain per doubling from {g.from_size} to {g.to_size}, paired over {g.n} questions).")
        return out


def read_out(metric: str, points: list[tuple[int, float, float, float]],
             last_two: list[dict[str, float]] | None = None) -> Readout | None:
    """``points``: (size, mean, low, high) smallest first; ``last_two``: question -> score of the last two
    points (for the paired gain). None without a point."""
    if not points:
        return None
    best = max(points, key=lambda p: (p[1], -p[0]))
    enough = min(size for size, mean, _, _ in points if mean >= best[2])
    readout = Readout(metric=metric, best_size=best[0], best=best[1], best_low=best[2], enough_size=enough,
                      largest_size=points[-1][0], smallest_size=points[0][0], shape=FLAT)
    if len(points) >= 2 and last_two and len(last_two) == 2:
        readout.gain = gain_per_doubling(points[-2][0], points[-1][0], *last_two)
    if readout.gain and readout.gain.low > 0:
        readout.shape = RISING
    elif enough > points[0][0]:
        readout.shape = LEVELS_OFF
    return readout


def gain_per_doubling(a_size: int, b_size: int, a: dict[str, float], b: dict[str, float]) -> Gain | None:
    """(b − a) per doubling of the examples, paired over the questions both points answered."""
    shared = sorted(set(a) & set(b))
    if not shared or b_size <= a_size:
        return None
    mean, low, high = paired_bootstrap_diff([b[q] for q in shared], [a[q] for q in shared], seed=BOOTSTRAP_SEED)
    doublings = math.log2(b_size / a_size)
    return Gain(from_size=a_size, to_size=b_size, next_size=2 * b_size, mean=round(mean / doublings, 4),
                low=round(low / doublings, 4), high=round(high / doublings, 4), n=len(shared))
