"""Fine-tunes that happen without a manual step: queue the datasets marked ``auto_finetune`` that
lack a model (smallest first, one job at a time), and say per dataset what the fine-tuned column
can show while there is no model yet (the job's live state, or the preflight verdict).

Which datasets train unasked is a setting (``[datasets.NAME] auto_finetune = true``), never a
guess from names or content: the demo workspace marks its three datasets; a team's own dataset
trains only when someone asks (``sandbox finetune DATASET``, or "Train now" in the app).
A job belongs to a dataset through its ``metadata.dataset`` (OpenAI's jobs carry metadata too).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pydantic import BaseModel

from sandbox.errors import SandboxError
from sandbox.examples import dataset_examples, parse_examples
from sandbox.finetune import client as ft
from sandbox.finetune.launch import launch, register, run_preflight
from sandbox.finetune.preflight import RECOMMENDED, TOO_FEW

ACTIVE = ("validating_files", "queued", "running")


class ColumnState(BaseModel):
    """What the fine-tuned column shows for one dataset."""

    dataset: str
    model: str = ""  # a registered model: the column answers
    job_id: str = ""
    status: str = ""  # the latest job's status, "" when there is none
    step: int | None = None
    total_steps: int | None = None
    eta_s: float | None = None
    error: str = ""
    preflight: str = ""  # one-line data verdict, shown with "Train now"

    @property
    def ready(self) -> bool:
        return bool(self.model)

    @property
    def training(self) -> bool:
        return self.status in ACTIVE

    @property
    def can_train(self) -> bool:
        return not self.ready and not self.training

    def text(self) -> str:
        if self.ready:
            return f"Fine-tuned model {self.model} is ready: ask a question."
        if self.status == "queued" or self.status == "validating_files":
            return f"Fine-tune {self.job_id} is queued (one job trains at a time); this column answers once it is done."
        if self.status == "running":
            where = f"step {self.step} of {self.total_steps}" if self.step else "loading the base model"
            eta = f", about {_duration(self.eta_s)} left" if self.eta_s else ""
            return f"Fine-tuning {self.dataset}: {where}{eta} ({self.job_id}). This column answers once it is done."
        lead = {"failed": f"The last fine-tune ({self.job_id}) failed: {self.error}. ",
                "cancelled": f"The last fine-tune ({self.job_id}) was cancelled. "}.get(self.status, "")
        return (f"{lead}No fine-tuned model for {self.dataset} yet. Data: {self.preflight}. "
                f"Press \"Train now\" (or run `sandbox finetune {self.dataset}`).")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def endpoint_of(ws) -> str:
    """Fine-tunes run where the fine-tuned pipeline's model is served."""
    return ws.settings.pipelines["fine-tuned"].endpoint


def has_model(ws, dataset: str) -> bool:
    return bool(ws.settings.model_for("fine-tuned", dataset))


def marked(ws) -> list[str]:
    """Datasets that fine-tune without being asked, smallest first (fewest examples)."""
    names = [d for d in ws.datasets() if ws.settings.datasets.get(d) and ws.settings.datasets[d].auto_finetune]
    return sorted(names, key=lambda d: (_example_count(ws, d), d))


def _example_count(ws, dataset: str) -> int:
    path = dataset_examples(ws.dataset_dir(dataset))
    return len(parse_examples(path)[0]) if path else 0


def latest_jobs(client) -> dict[str, Any]:
    """dataset -> its newest job (any status), from the endpoint's job list."""
    jobs = ft.call("list fine-tuning jobs", client.fine_tuning.jobs.list, limit=100).data
    out: dict[str, Any] = {}
    for job in sorted(jobs, key=lambda j: j.created_at):
        dataset = (job.metadata or {}).get("dataset")
        if dataset:
            out[dataset] = job
    return out


def queue_missing(ws, datasets: list[str] | None = None, client=None) -> list[dict[str, str]]:
    """Queue a fine-tune for each dataset (default: the marked ones) that has no model and no job
    under way; register models of jobs that already succeeded. One row per dataset says what happened."""
    endpoint = endpoint_of(ws)
    client = client or ft.make_client(ws, endpoint)
    jobs = latest_jobs(client)
    rows = []
    for dataset in marked(ws) if datasets is None else datasets:
        job = jobs.get(dataset)
        if has_model(ws, dataset):
            rows.append({"dataset": dataset, "action": "has a model", "job": "", "model": ws.settings.model_for("fine-tuned", dataset)})
        elif job is not None and job.status == "succeeded" and register(ws, dataset, job):
            rows.append({"dataset": dataset, "action": "registered", "job": job.id, "model": job.fine_tuned_model})
        elif job is not None and job.status in ACTIVE:
            rows.append({"dataset": dataset, "action": f"already {job.status}", "job": job.id, "model": ""})
        else:
            job = launch(ws, dataset, endpoint, metadata={"dataset": dataset}).job
            rows.append({"dataset": dataset, "action": "queued", "job": job.id, "model": ""})
    return rows


def column_state(ws, dataset: str, client=None) -> ColumnState:
    """The fine-tuned column's state; a job that succeeded becomes the dataset's model here and now,
    so the next question uses it without a restart."""
    if has_model(ws, dataset):
        return ColumnState(dataset=dataset, model=ws.settings.model_for("fine-tuned", dataset))
    try:
        client = client or ft.make_client(ws, endpoint_of(ws))
        job = latest_jobs(client).get(dataset)
        if job is not None and job.status == "succeeded" and register(ws, dataset, job):
            return ColumnState(dataset=dataset, model=job.fine_tuned_model, job_id=job.id, status=job.status)
        state = ColumnState(dataset=dataset, job_id=job.id if job else "", status=job.status if job else "",
                            error=job.error.message if job is not None and job.error else "")
        if state.status == "running":
            last = (ft.metrics(client, job.id, limit=5) or [{}])[-1]
            state.step, state.total_steps, state.eta_s = last.get("step"), last.get("total_steps"), last.get("eta_s")
    except SandboxError as exc:
        state = ColumnState(dataset=dataset, error=str(exc))
    if state.can_train:
        state.preflight = preflight_verdict(ws, dataset)
    return state


def preflight_verdict(ws, dataset: str) -> str:
    """One line on whether the dataset's examples can be fine-tuned on, e.g. "36 examples: below the 50 minimum"."""
    try:
        report = run_preflight(ws, dataset)[0]
    except SandboxError as exc:
        return str(exc)
    n = report.n_examples
    if not report.ok:
        return f"{len(report.errors)} error(s) in {report.file}; `sandbox check-data {dataset}` lists them"
    if n < TOO_FEW:
        return f"{n} examples: below the {TOO_FEW} minimum (training works, but expect little)"
    if n < RECOMMENDED:
        return f"{n} examples: enough to start ({RECOMMENDED}+ recommended)"
    return f"{n} examples: ready"


def train_now(ws, dataset: str) -> ColumnState:
    """The column's "Train now": queue this dataset's fine-tune unless one is already under way."""
    queue_missing(ws, [dataset])
    return column_state(ws, dataset)


def sync(ws, client=None) -> list[str]:
    """Register the models of succeeded jobs for datasets that lack one; listing the jobs also lets
    the local provider start the next queued job. Returns the datasets still training."""
    waiting = [d for d in ws.datasets() if not has_model(ws, d)]
    if not waiting:
        return []
    jobs = latest_jobs(client or ft.make_client(ws, endpoint_of(ws)))
    for dataset in waiting:
        if dataset in jobs and jobs[dataset].status == "succeeded":
            register(ws, dataset, jobs[dataset])
    return [d for d in waiting if d in jobs and jobs[d].status in ACTIVE]


def watch(ws, every_s: float = 10.0) -> threading.Thread:
    """Keep the queue moving and register finished models while the app runs (a daemon thread)."""

    def loop() -> None:
        while True:
            try:
                sync(ws)
            except SandboxError:
                pass  # the endpoint is down for now; the column shows the error, the next round retries
            time.sleep(every_s)

    thread = threading.Thread(target=loop, name="sandbox-finetune-watch", daemon=True)
    thread.start()
    return thread
