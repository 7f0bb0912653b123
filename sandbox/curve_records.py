"""What a learning curve is (its points, live progress, the curve with its read-outs) and how a stored
curve is read back: the points from the store, the reference lines from the stored evals of few-shot and
rag on the same questions, and the per-question scores the gain per doubling is paired on."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandbox.config import Workspace
from sandbox.curve_readout import Readout, read_out
from sandbox.errors import SandboxError
from sandbox.evaluate import Interval, load_summary
from sandbox.questions import load_questions
from sandbox.store import Store, open_store
from sandbox.store import curves as curve_store

REFERENCES = ("few-shot", "rag")


class CurvePoint(BaseModel):
    size: int
    job_id: str = ""
    model: str = ""
    reused: bool = Field(False, description="the dataset's registered fine-tune (same data and settings)")
    trained_tokens: int | None = None
    train_seconds: float | None = Field(None, description="the training loop, as the trainer reports it")
    job_seconds: float | None = Field(None, description="the job from creation to its end (model load, queue)")
    cost_usd: float | None = None
    eval_id: str = ""
    eval_seconds: float | None = None
    quality: Interval | None = None
    errors: int = 0


class CurveProgress(BaseModel):
    """Where a running curve is, for progress bars: point k of n, its phase, the job's step, an ETA."""

    curve_id: str
    point: int
    points: int
    size: int
    phase: str  # queued | training | evaluating | references | done
    step: int | None = None
    total_steps: int | None = None
    done: int | None = None  # answers scored in the eval phase
    total: int | None = None
    eta_s: float | None = None

    def text(self) -> str:
        where = f"point {self.point} of {self.points} ({self.size} examples): {self.phase}"
        if self.phase == "training" and self.step:
            where += f", step {self.step} of {self.total_steps}"
        if self.phase in ("evaluating", "references") and self.total:
            where += f", {self.done} of {self.total} answers"
        if self.eta_s:
            where += f", about {self.eta_s / 60:.0f} min left" if self.eta_s >= 90 else f", about {self.eta_s:.0f} s left"
        return where


class Curve(BaseModel):
    id: str
    dataset: str
    endpoint: str
    epochs: int
    n_train: int
    metric: str = ""
    metric_reason: str = ""
    sizes: list[int]
    points: list[CurvePoint] = Field(default_factory=list)
    references: dict[str, Interval] = Field(default_factory=dict)
    status: str = "running"
    seconds: float | None = Field(None, description="this run's wall time")
    reference_seconds: float | None = Field(None, description="this run's few-shot/rag evals (0: stored ones reused)")
    readout: Readout | None = None


class CurveCancelled(SandboxError):
    """The curve was cancelled; its finished points stay stored."""


def load_curve(ws: Workspace, dataset: str, curve_id: str | None = None, *, store: Store | None = None,
               references: dict[str, Interval] | None = None) -> Curve | None:
    """A stored curve (default: the dataset's latest with a scored point) with its read-outs; None when none."""
    store = store or open_store(ws)
    row = curve_store.curve(store, curve_id) if curve_id else curve_store.latest_curve(store, dataset)
    if row is None:
        return None
    config = row["config"]
    points = [CurvePoint(**p["record"]) for p in curve_store.points(store, row["id"]) if p["status"] == "done"]
    summary = load_summary(ws, dataset, pipelines=list(REFERENCES), store=store,
                           limit_to=set(question_ids(ws, dataset, config.get("questions"))))
    if references is None:
        references = reference_lines(summary)
    curve = Curve(id=row["id"], dataset=dataset, endpoint=config["endpoint"], epochs=config["epochs"],
                  n_train=config.get("n_train", 0), metric=summary.quality_metric, metric_reason=summary.quality_reason,
                  sizes=[p.size for p in points], points=points, references=references, status=row["status"])
    curve.readout = read_out(curve.metric, [(p.size, p.quality.mean, p.quality.low, p.quality.high) for p in points],
                             _per_question(store, points[-2:], curve.metric))
    return curve


def reference_lines(summary) -> dict[str, Interval]:
    """pipeline -> its primary-metric interval, for the pipelines that answered (a pipeline whose every
    answer failed, e.g. rag without documents, draws no line)."""
    return {name: iv for name, s in summary.pipelines.items() if name in REFERENCES and s.errors < s.n
            and (iv := s.metrics.get(summary.quality_metric)) is not None}


def _per_question(store: Store, points: list[CurvePoint], metric: str) -> list[dict[str, float]]:
    """question id -> the metric, for each given point (what the gain per doubling is paired on)."""
    return [{q: float(row["metrics"][metric]) for q, row in store.eval_scores(p.eval_id).items()
             if row["metrics"].get(metric) is not None} for p in points]


def question_ids(ws: Workspace, dataset: str, limit: int | None = None) -> list[str]:
    """The held-out questions a curve is scored on: the first ``limit`` of questions.jsonl (all: None)."""
    path = ws.dataset_dir(dataset) / "questions.jsonl"
    return [q.id for q in load_questions(path)][: limit or None] if path.is_file() else []
