"""The scoreboard: per dataset, each pipeline's primary quality metric with its 95% interval,
tokens, latency and cost from the stored evals, and the measured winner.

The winner rule respects the intervals. The pipeline with the best mean leads; every pipeline it is
not measurably ahead of is tied with it (``sandbox.separation``: the 95% paired bootstrap interval of
the per-question difference must lie above 0). Among the tied, the framework decides: the dataset's
verdict (``sandbox advise``, which weighs format, domain language, knowledge, data volume and the
cost break-even — training once against cheaper calls at the expected volume) wins if it is tied;
else the cheaper one wins: no training run first, then cost per call, then tokens per call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from pydantic import BaseModel, Field

from sandbox import PIPELINES
from sandbox.advisor import advise
from sandbox.evaluate import EvalSummary, load_summary
from sandbox.separation import Gap, Scored, gaps
from sandbox.text import interval_text

TRAINED = {"fine-tuned"}
RULE = ("best mean of the primary metric, unless the leader is not measurably ahead (95% paired bootstrap interval "
        "of the per-question difference touching 0): then the tied pipelines go to the dataset's framework verdict "
        "(sandbox advise), else to the cheaper (no training run, then cost per call, then tokens per call)")


class Entry(BaseModel):
    pipeline: str
    n: int
    errors: int
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    prompt_tokens: float | None = None
    completion_tokens: float | None = None
    latency_s: float | None = None
    cost_usd: float | None = None
    scores: dict[str, float | None] = Field(default_factory=dict, exclude=True, description="question id -> metric")

    @property
    def measured(self) -> bool:
        return self.mean is not None

    def cheapness(self) -> tuple:
        tokens = (self.prompt_tokens or 0.0) + (self.completion_tokens or 0.0)
        return (self.pipeline in TRAINED, self.cost_usd or 0.0, tokens)


class Board(BaseModel):
    dataset: str
    metric: str
    questions: int
    entries: list[Entry]
    winner: str | None = None
    tied: list[str] = Field(default_factory=list, description="pipelines the leader is not measurably ahead of, and the leader")
    leader: str | None = Field(None, description="best mean, before the tie rule")
    gaps: list[Gap] = Field(default_factory=list, description="the leader's lead over each other pipeline")
    decided_by: str = Field("", description="'measured', 'framework verdict' or 'cheaper' (how the winner was chosen)")
    rule: str = RULE


def entries_of(summary: EvalSummary) -> list[Entry]:
    out = []
    for name, s in summary.pipelines.items():
        m, quality = s.metrics, s.metrics.get(summary.quality_metric)
        out.append(Entry(pipeline=name, n=s.n, errors=s.errors,
                         mean=quality.mean if quality else None, low=quality.low if quality else None,
                         high=quality.high if quality else None, scores=s.scores(summary.quality_metric),
                         **{k: m[k].mean for k in ("prompt_tokens", "completion_tokens", "latency_s", "cost_usd") if k in m}))
    return out


class Decision(NamedTuple):
    winner: str | None
    tied: list[str]
    leader: str | None
    gaps: list[Gap]
    decided_by: str


def decide(entries: Sequence[Entry], verdict: Callable[[], Sequence[str]] = tuple) -> Decision:
    """The winner by the rule in the module docstring. ``verdict``: the framework's preferred pipelines,
    best first; called only on a tie (it runs the advisor)."""
    measured = [e for e in entries if e.measured]
    if not measured:
        return Decision(None, [], None, [], "")
    leader, behind = gaps([Scored(e.pipeline, e.mean, e.low, e.high, e.scores) for e in measured])
    tied = [leader.pipeline] + [g.other for g in behind if not g.separated]
    if len(tied) == 1:
        return Decision(leader.pipeline, [], leader.pipeline, behind, "measured")
    preferred = next((p for p in verdict() if p in tied), None)
    winner = preferred or min((e for e in measured if e.pipeline in tied), key=Entry.cheapness).pipeline
    return Decision(winner, sorted(tied), leader.pipeline, behind, "framework verdict" if preferred else "cheaper")


def framework_verdict(workspace, dataset: str, summary: EvalSummary, store) -> Callable[[], list[str]]:
    def verdict() -> list[str]:
        advice = advise(workspace, dataset, store=store, summary=summary)
        return [p for p in (advice.recommendation, advice.also) if p]
    return verdict


def board(workspace, dataset: str, pipelines: Sequence[str] = PIPELINES, store=None) -> Board:
    summary = load_summary(workspace, dataset, pipelines=pipelines, store=store)
    entries = entries_of(summary)
    d = decide(entries, framework_verdict(workspace, dataset, summary, store))
    return Board(dataset=summary.dataset, metric=summary.quality_metric, questions=summary.questions,
                 entries=entries, winner=d.winner, tied=d.tied, leader=d.leader, gaps=d.gaps, decided_by=d.decided_by)


def evaluable(workspace) -> list[str]:
    """Datasets with held-out questions."""
    return [d for d in workspace.datasets() if (workspace.dataset_dir(d) / "questions.jsonl").is_file()]


def scoreboard(workspace, datasets: Sequence[str] | None = None, store=None) -> list[Board]:
    return [board(workspace, d, store=store) for d in (datasets or evaluable(workspace))]


def winner_text(b: Board) -> str:
    if b.winner is None:
        return "not measured yet"
    if b.tied:
        text = f"{b.winner} (tie of {', '.join(b.tied)}; {b.decided_by})"
    elif b.gaps:
        closest = min(b.gaps, key=lambda g: g.diff)
        text = f"{b.winner} (ahead of {closest.other} by {interval_text(closest.diff, closest.low, closest.high, '+.2f')})"
    else:
        text = b.winner
    missing = [e.pipeline for e in b.entries if not e.measured]
    return text + (f"; not measured: {', '.join(missing)}" if missing else "")


def rows(boards: Sequence[Board]) -> list[list[str]]:
    """Table rows (the CLI, the Advisor tab and the README share them)."""
    out = []
    for b in boards:
        for e in b.entries:
            quality = interval_text(e.mean, e.low, e.high) if e.measured else "—"
            out.append([b.dataset, b.metric or "—", e.pipeline, f"{e.n}" + (f" ({e.errors} err)" if e.errors else ""), quality,
                        _num(e.prompt_tokens, "{:.0f}") + "/" + _num(e.completion_tokens, "{:.0f}"),
                        _num(e.latency_s, "{:.2f}"), _num(e.cost_usd, "{:.6f}"),
                        winner_text(b) if e.pipeline == (b.winner or b.entries[0].pipeline) else ""])
    return out


COLUMNS = ["dataset", "metric", "pipeline", "n", "mean [95% CI]", "tokens in/out", "latency s", "cost $/call", "winner"]


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def markdown(boards: Sequence[Board]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows(boards)]
    return "\n".join(lines)
