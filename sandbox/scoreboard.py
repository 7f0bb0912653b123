"""The scoreboard: per dataset, each pipeline's primary quality metric with its 95% interval,
tokens, latency and cost from the stored evals, and the measured winner.

The winner rule respects the intervals. The pipeline with the best mean leads; every pipeline
whose interval overlaps the leader's is tied with it (the data cannot tell them apart). Among the
tied, the cheaper one wins: first one that needs no training run (a fine-tune is a one-time cost
and a model to keep up to date), then the lower cost per call, then fewer tokens per call. So a
fine-tune wins only when it is measurably better, which is what the framework asks of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from sandbox import PIPELINES
from sandbox.evaluate import EvalSummary, load_summary
from sandbox.text import interval_text

TRAINED = {"fine-tuned"}
RULE = ("best mean of the primary metric; pipelines whose 95% interval overlaps the leader's are tied, "
        "and among the tied the cheaper wins (no training run first, then cost per call, then tokens per call)")


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
    tied: list[str] = Field(default_factory=list, description="pipelines whose interval overlaps the leader's")
    leader: str | None = Field(None, description="best mean, before the tie rule")
    rule: str = RULE


def entries_of(summary: EvalSummary) -> list[Entry]:
    out = []
    for name, s in summary.pipelines.items():
        m, quality = s.metrics, s.metrics.get(summary.quality_metric)
        out.append(Entry(pipeline=name, n=s.n, errors=s.errors,
                         mean=quality.mean if quality else None, low=quality.low if quality else None,
                         high=quality.high if quality else None,
                         **{k: m[k].mean for k in ("prompt_tokens", "completion_tokens", "latency_s", "cost_usd") if k in m}))
    return out


def decide(entries: Sequence[Entry]) -> tuple[str | None, list[str], str | None]:
    """(winner, tied pipelines, leader) by the rule in the module docstring."""
    measured = [e for e in entries if e.measured]
    if not measured:
        return None, [], None
    leader = max(measured, key=lambda e: e.mean)
    tied = [e for e in measured if e.high >= leader.low and leader.high >= e.low]
    winner = min(tied, key=Entry.cheapness)
    return winner.pipeline, sorted(e.pipeline for e in tied) if len(tied) > 1 else [], leader.pipeline


def board(workspace, dataset: str, pipelines: Sequence[str] = PIPELINES, store=None) -> Board:
    summary = load_summary(workspace, dataset, pipelines=pipelines, store=store)
    entries = entries_of(summary)
    winner, tied, leader = decide(entries)
    return Board(dataset=summary.dataset, metric=summary.quality_metric, questions=summary.questions,
                 entries=entries, winner=winner, tied=tied, leader=leader)


def evaluable(workspace) -> list[str]:
    """Datasets with held-out questions."""
    return [d for d in workspace.datasets() if (workspace.dataset_dir(d) / "questions.jsonl").is_file()]


def scoreboard(workspace, datasets: Sequence[str] | None = None, store=None) -> list[Board]:
    return [board(workspace, d, store=store) for d in (datasets or evaluable(workspace))]


def winner_text(b: Board) -> str:
    if b.winner is None:
        return "not measured yet"
    text = b.winner if not b.tied else f"{b.winner} (tie of {', '.join(b.tied)}; cheaper)"
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
