"""Learning curves: "how many examples do I need?" measured on the team's own data.

For each size, fine-tune on the first ``size`` examples of the training split in curve order (nested and
stratified, ``sandbox.curve_subsets``), then evaluate that model with the fine-tuned pipeline on the
dataset's held-out questions (``sandbox.evaluate``, so answers are stored and resumable like any eval).
The few-shot and rag pipelines' scores on the same questions are the reference lines.

Resumable: a curve's id is a hash of its data (in curve order) and training settings, never of the sizes,
so adding a size reuses the others. A point is stored once its job exists, again once its model is known,
and again once scored; a rerun follows or replaces its job and finishes its eval. The full-size point
reuses the dataset's registered fine-tune when that model was trained on the same examples with the same
settings. Jobs go through the fine-tuning API, so local trainings queue with every other local fine-tune
(one trains at a time); their metadata names the curve, not the dataset, so a curve's models never become
the dataset's fine-tuned model.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from sandbox import PIPELINES
from sandbox.config import DatasetConfig, Workspace
from sandbox.curve_records import (REFERENCES, Curve, CurveCancelled, CurvePoint, CurveProgress, load_curve,
                                   question_ids, reference_lines)
from sandbox.curve_subsets import order_key, parse_sizes, stratified_order
from sandbox.errors import ConfigError, DataError, FineTuneError, SandboxError
from sandbox.evaluate import Interval, load_summary, run_eval
from sandbox.examples import parse_examples
from sandbox.finetune import client as ft
from sandbox.finetune.launch import endpoint_name, resolve_data
from sandbox.finetune.queue import ACTIVE, endpoint_of
from sandbox.finetune.split import example_key, split_examples, split_store, to_jsonl
from sandbox.store import Store, open_store
from sandbox.store import curves as curve_store

DEFAULT_EPOCHS = 3  # as `sandbox finetune`, so the full-size point can reuse the registered fine-tune
POLL_S = 1.0


OnProgress = Callable[[CurveProgress], None]


class _Run:
    """One curve run: its settings, client and store, and the steps of one point."""

    def __init__(self, ws: Workspace, dataset: str, endpoint: str, epochs: int, limit: int | None, batch_size: int | None,
                 lr_multiplier: float | None, store: Store, on_progress: OnProgress,
                 should_stop: Callable[[], bool], eval_options: dict[str, Any], client=None):
        self.ws, self.dataset, self.endpoint, self.epochs = ws, dataset, endpoint, epochs
        self.batch_size, self.lr_multiplier = batch_size, lr_multiplier
        self.store, self.on_progress, self.should_stop, self.eval_options = store, on_progress, should_stop, eval_options
        path = resolve_data(ws, dataset)[0]
        examples, problems = parse_examples(path)
        if problems:
            raise FineTuneError(f"{path} has {len(problems)} invalid line(s); a curve trains on valid data only.",
                                f"Run `sandbox check-data {dataset}` and fix the lines it lists.")
        self.limit, self.questions = limit, question_ids(ws, dataset, limit)
        if not self.questions:  # fail before training, not after the first point
            raise DataError(ws.dataset_dir(dataset) / "questions.jsonl", "no held-out questions to score the curve on.",
                            'Add questions.jsonl: one {"id", "question", "reference"} per line.')
        self.split = split_examples(examples, split_store(ws.state_dir, dataset))
        self.order = [self.split.train[i] for i in stratified_order(self.split.train)]
        self.settings = {"dataset": dataset, "data": order_key(self.order, list(range(len(self.order)))),
                         "validation": sorted(example_key(e) for e in self.split.validation), "endpoint": endpoint,
                         "base_model": _endpoint(ws, endpoint).model, "epochs": epochs,
                         "batch_size": batch_size, "lr_multiplier": lr_multiplier, "questions": limit}
        self.id = "cv_" + hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode()).hexdigest()[:16]
        self._validation_file: str | None = None
        self.active_job = ""
        self._client = client

    @cached_property
    def client(self):
        """Made on first use: for "local" it starts the built-in server, which bad input should never wait for."""
        return self._client or ft.make_client(self.ws, self.endpoint)

    # training ------------------------------------------------------------------------------------------
    def train(self, point: CurvePoint, progress: CurveProgress) -> CurvePoint:
        """A model for this point: the registered fine-tune, the point's stored job, or a new job."""
        if point.size == len(self.order) and not point.job_id and (reused := self._registered_match()):
            return self._finished(point.model_copy(update={"reused": True}), reused)
        job = None
        if point.job_id:
            job = ft.call("read the job", self.client.fine_tuning.jobs.retrieve, point.job_id)
            if job.status not in ACTIVE and job.status != "succeeded":
                job = None  # failed or cancelled (e.g. the process that followed it was killed): train again
        if job is None:
            job = self._create(point.size)
            point = point.model_copy(update={"job_id": job.id, "model": ""})
            curve_store.save_point(self.store, self.id, point.size, "training", point.model_dump())
        job = self._follow(job.id, progress)
        if job.status != "succeeded":
            message = job.error.message if job.error else job.status
            raise FineTuneError(f"The fine-tune for {point.size} examples ({job.id}) {job.status}: {message}",
                                "Run the curve again: finished points are kept and this one is retrained.")
        return self._finished(point, job)

    def _create(self, size: int):
        name = f"{self.dataset}-curve-{size}"
        train_id = ft.upload(self.client, to_jsonl(self.order[:size]), f"{name}.jsonl")
        if self._validation_file is None and self.split.validation:
            self._validation_file = ft.upload(self.client, to_jsonl(self.split.validation), f"{self.dataset}-validation.jsonl")
        return ft.create(self.client, model=self.settings["base_model"], training_file=train_id,
                         validation_file=self._validation_file, n_epochs=self.epochs, batch_size=self.batch_size,
                         learning_rate_multiplier=self.lr_multiplier, suffix=_suffix(f"{self.dataset}-n{size}"),
                         metadata={"curve": self.id, "curve_size": str(size)})

    def _follow(self, job_id: str, progress: CurveProgress):
        self.active_job = job_id
        try:
            while True:
                if self.should_stop():
                    ft.call("cancel the job", self.client.fine_tuning.jobs.cancel, job_id)
                    raise CurveCancelled("The learning curve was cancelled; finished points are kept.",
                                         "Start it again to continue from the last finished point.")
                job = ft.call("read the job", self.client.fine_tuning.jobs.retrieve, job_id)
                last = (ft.metrics(self.client, job_id, limit=5) or [{}])[-1] if job.status == "running" else {}
                progress.phase = "training" if job.status == "running" else job.status
                progress.step, progress.total_steps = last.get("step"), last.get("total_steps")
                self.on_progress(progress.model_copy(update={"eta_s": _plus(progress.eta_s, last.get("eta_s"))}))
                if job.status not in ACTIVE:
                    return job
                time.sleep(POLL_S)
        except KeyboardInterrupt:  # Ctrl-C in the CLI: the job must not train on without anyone following it
            ft.call("cancel the job", self.client.fine_tuning.jobs.cancel, job_id)
            raise
        finally:
            self.active_job = ""

    def _finished(self, point: CurvePoint, job) -> CurvePoint:
        trained = _train_result(self.client, job.id)
        price = self.ws.settings.endpoints[self.endpoint].price_train_per_mtok
        tokens = job.trained_tokens or trained.get("trained_tokens")
        point = point.model_copy(update={
            "job_id": job.id, "model": job.fine_tuned_model, "trained_tokens": tokens,
            "train_seconds": trained.get("seconds"), "job_seconds": (job.finished_at - job.created_at) if job.finished_at else None,
            "cost_usd": round(tokens * price / 1e6, 6) if tokens is not None else None})
        curve_store.save_point(self.store, self.id, point.size, "trained", point.model_dump())
        return point

    def _registered_match(self):
        """The job behind the dataset's registered fine-tune, if it trained the whole split with these settings."""
        config = self.ws.settings.datasets.get(self.dataset)
        model = config.fine_tuned_model if config else ""
        if not model:
            return None
        jobs = ft.call("list fine-tuning jobs", self.client.fine_tuning.jobs.list, limit=100).data
        job = next((j for j in jobs if j.fine_tuned_model == model and j.status == "succeeded"), None)
        if job is None or job.model != self.settings["base_model"] or not self._same_settings(job.hyperparameters):
            return None
        try:
            data = self.client.files.content(job.training_file).read()
        except Exception:  # noqa: BLE001 - the provider keeps no copy (or refuses): train the point instead
            return None
        keys = {example_key(e) for e in _examples_of(data)}
        return job if keys == {example_key(e) for e in self.order} else None

    def _same_settings(self, hp) -> bool:
        from sandbox.finetune.trainer import TrainConfig  # the local defaults "auto" resolves to

        defaults = TrainConfig()
        wanted = {"n_epochs": (self.epochs,),
                  "batch_size": (self.batch_size,) if self.batch_size else ("auto", defaults.batch_size),
                  "learning_rate_multiplier": (self.lr_multiplier,) if self.lr_multiplier else ("auto", 1.0)}
        return all(getattr(hp, name, None) in allowed for name, allowed in wanted.items())

    # evaluation ----------------------------------------------------------------------------------------
    def evaluate(self, point: CurvePoint, progress: CurveProgress) -> CurvePoint:
        started = time.perf_counter()
        summary = run_eval(with_fine_tuned_model(self.ws, self.dataset, point.model), self.dataset, limit=self.limit,
                           pipelines=["fine-tuned"], store=self.store, judge=False,
                           progress=self._eval_progress(progress, "evaluating"), **self.eval_options)
        tuned = summary.pipelines["fine-tuned"]
        interval = tuned.metrics.get(summary.quality_metric)
        if interval is None:
            raise ConfigError(f"The held-out questions of {self.dataset} have no references to score {summary.quality_metric or 'a metric'} on.",
                              "Add a reference answer to each line of questions.jsonl.")
        point = point.model_copy(update={"eval_id": tuned.eval_id, "errors": tuned.errors,
                                         "eval_seconds": round(time.perf_counter() - started, 2),
                                         "quality": interval})
        curve_store.save_point(self.store, self.id, point.size, "done", point.model_dump())
        return point

    def references(self, progress: CurveProgress, run_missing: bool) -> dict[str, Interval]:
        """few-shot and rag on the same questions: stored evals where they cover them, else run them."""
        wanted = [p for p in REFERENCES if p in PIPELINES]
        summary = load_summary(self.ws, self.dataset, pipelines=wanted, store=self.store, limit_to=set(self.questions))
        missing = [p for p in wanted if summary.pipelines[p].n < len(self.questions)]
        if missing and run_missing:
            try:
                summary = run_eval(self.ws, self.dataset, pipelines=wanted, store=self.store, judge=False, limit=self.limit,
                                   progress=self._eval_progress(progress, "references"), **self.eval_options)
            except SandboxError:
                pass  # e.g. no index for rag: draw the reference lines that exist
        return reference_lines(summary)

    def _eval_progress(self, progress: CurveProgress, phase: str):
        def update(done: int, total: int) -> None:
            self.on_progress(progress.model_copy(update={"phase": phase, "done": done, "total": total}))
        return update


def with_fine_tuned_model(ws: Workspace, dataset: str, model: str) -> Workspace:
    """A copy of the workspace whose fine-tuned pipeline answers with ``model`` for ``dataset``
    (sandbox.toml is not touched: a curve's models never replace the registered one)."""
    settings = ws.settings.model_copy(deep=True)
    config = settings.datasets.get(dataset)
    settings.datasets[dataset] = (config or DatasetConfig()).model_copy(update={"fine_tuned_model": model})
    return Workspace(ws.root, settings)


def run_curve(ws: Workspace, dataset: str | None, *, sizes: str | list[int] | None = None, epochs: int = DEFAULT_EPOCHS,
              limit: int | None = None,
              provider: str | None = None, endpoint: str | None = None, batch_size: int | None = None,
              lr_multiplier: float | None = None, references: bool = True, store: Store | None = None,
              on_progress: OnProgress = lambda p: None, should_stop: Callable[[], bool] = lambda: False,
              eval_options: dict[str, Any] | None = None, client=None) -> Curve:
    """Train and score every size not finished yet (smallest first), then the reference lines.

    ``limit``: score on the first N held-out questions only (a separate curve: its points are not comparable
    with an all-questions curve). Trains on ``endpoint`` (or ``provider``; default: the fine-tuned pipeline's endpoint, which must serve
    the models it scores). ``eval_options`` go to ``run_eval`` (``stream_compare``, ``embedder``: the app passes its own).
    Cancelling (``should_stop``) stops the running job; what finished stays stored."""
    dataset = ws.dataset_dir(dataset).name
    store = store or open_store(ws)
    run = _Run(ws, dataset, endpoint_name(ws, provider or endpoint_of(ws), endpoint), epochs, limit, batch_size,
               lr_multiplier, store, on_progress, should_stop, eval_options or {}, client)
    wanted = sizes if isinstance(sizes, list) else parse_sizes(sizes, len(run.order))
    curve_store.start_curve(store, run.id, dataset, {**run.settings, "n_train": len(run.order)})
    stored = {p["size"]: (p["status"], CurvePoint(**p["record"])) for p in curve_store.points(store, run.id)}
    started, done = time.perf_counter(), []
    try:
        for k, size in enumerate(wanted, start=1):
            status, point = stored.get(size, ("", CurvePoint(size=size)))
            progress = CurveProgress(curve_id=run.id, point=k, points=len(wanted), size=size, phase="queued",
                                     eta_s=_eta(done, wanted[k:], evals=1 + len(wanted) - k))
            if status != "done":
                if status != "trained":
                    point = run.train(point, progress)
                if should_stop():
                    raise CurveCancelled("The learning curve was cancelled; finished points are kept.",
                                         "Start it again to continue from the last finished point.")
                point = run.evaluate(point, progress)
            done.append(point)
        refs_started = time.perf_counter()
        refs = run.references(CurveProgress(curve_id=run.id, point=len(wanted), points=len(wanted), size=wanted[-1], phase="references"),
                              references)
        refs_seconds = round(time.perf_counter() - refs_started, 2)
    except (CurveCancelled, KeyboardInterrupt):
        curve_store.set_curve_status(store, run.id, "cancelled")
        raise
    except BaseException:
        curve_store.set_curve_status(store, run.id, "failed")
        raise
    curve_store.set_curve_status(store, run.id, "done")
    on_progress(CurveProgress(curve_id=run.id, point=len(wanted), points=len(wanted), size=wanted[-1], phase="done"))
    curve = load_curve(ws, dataset, run.id, store=store, references=refs)
    curve.seconds, curve.reference_seconds = round(time.perf_counter() - started, 2), refs_seconds
    return curve


def _train_result(client, job_id: str) -> dict[str, Any]:
    """The trainer's own report (seconds, tokens) from the job's events, when the provider writes one."""
    events = ft.call("read job events", client.fine_tuning.jobs.list_events, job_id, limit=100).data
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if "seconds" in data and "trained_tokens" in data:
            return data
    return {}


def _examples_of(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        path.write_bytes(data)
        return parse_examples(path)[0]


def _eta(done: list[CurvePoint], later: list[int], evals: int) -> float | None:
    """Seconds for the ``later`` sizes' trainings and ``evals`` evals, from the finished points' time per
    trained example and per eval (None before a point was timed); the running job adds its own ETA."""
    timed = [p for p in done if p.job_seconds and p.eval_seconds and not p.reused]
    if not timed:
        return None
    per_example = sum(p.job_seconds for p in timed) / sum(p.size for p in timed)
    per_eval = sum(p.eval_seconds for p in timed) / len(timed)
    return round(per_example * sum(later) + per_eval * evals, 1)


def _endpoint(ws: Workspace, name: str):
    if name not in ws.settings.endpoints:
        raise FineTuneError(f"No endpoint named {name!r}.",
                            f"Define [endpoints.{name}] in sandbox.toml (available: {', '.join(ws.settings.endpoints)}).")
    return ws.settings.endpoints[name]


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def _suffix(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:40]
