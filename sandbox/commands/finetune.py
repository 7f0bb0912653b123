"""`sandbox check-data` and `sandbox finetune`: preflight, launch, follow, register, export."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sandbox.cli import JsonOpt, app, console, print_json, workspace
from sandbox.errors import FineTuneError

ACTIONS = ("status", "cancel", "list", "export")


@app.command("check-data")
def check_data(
    target: Optional[str] = typer.Argument(None, help="A dataset name (corpora/NAME) or an examples file (.jsonl / .csv)."),
    endpoint: str = typer.Option("local", "--endpoint", help="Endpoint whose training price the cost estimate uses."),
    epochs: int = typer.Option(3, "--epochs", help="Epochs assumed by the cost estimate."),
    as_json: bool = JsonOpt,
) -> None:
    """Preflight fine-tuning data: format errors by line, token stats, duplicates, leakage, split, cost."""
    from sandbox.finetune.launch import endpoint_name, run_preflight
    from sandbox.finetune.preflight import render

    ws = workspace()
    report, _, _ = run_preflight(ws, target, endpoint_name(ws, endpoint), epochs)
    if as_json:
        print_json(report.model_dump())
    else:
        console().print(render(report), markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("finetune")
def finetune(
    target: Optional[str] = typer.Argument(None, help="DATASET (or examples file) to fine-tune on, or one of: status [JOB], cancel JOB, list, export JOB_OR_MODEL."),
    job_arg: Optional[str] = typer.Argument(None, metavar="[JOB]", help="Job id (or model id for export)."),
    provider: str = typer.Option("local", "--provider", help="local (LoRA on the built-in model) or openai."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Any endpoint NAME from sandbox.toml that speaks OpenAI's fine-tuning API."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the job until it ends (progress bar)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs (default: 3 locally, the provider's 'auto' remotely)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    lr_multiplier: Optional[float] = typer.Option(None, "--lr-multiplier", min=0.0),
    suffix: Optional[str] = typer.Option(None, "--suffix", help="Part of the model name (default: the dataset name)."),
    out: Optional[Path] = typer.Option(None, "--out", help="export: folder to write the adapter and merged model into."),
    as_json: bool = JsonOpt,
) -> None:
    """Fine-tune on a dataset's examples (preflight, upload, train, follow, register the model for the
    fine-tuned pipeline); also `finetune status [JOB]`, `cancel JOB`, `list`, `export JOB --out DIR`."""
    from sandbox.finetune import client as ft
    from sandbox.finetune.launch import endpoint_name, launch, register

    ws = workspace()
    name = endpoint_name(ws, provider, endpoint)
    if target == "export":
        return _export(ws, job_arg, out, as_json)
    if target in ACTIONS:
        return _manage(ws, target, job_arg, ft.make_client(ws, name), as_json)
    run = launch(ws, target, name, epochs=epochs, batch_size=batch_size, lr_multiplier=lr_multiplier, suffix=suffix)
    job, dataset = run.job, run.dataset
    if not as_json:
        console().print(f"Job {job.id} created: {run.n_train} train / {run.n_validation} validation examples, "
                        f"{run.report.estimated_trained_tokens} tokens ({run.report.epochs} epochs, estimate).", markup=False)
    if wait:
        job = _follow(run.client, job.id, quiet=as_json)
        register(ws, dataset, job)
    if as_json:
        print_json(job.model_dump())
    elif job.status == "succeeded":
        console().print(f"Fine-tuned model {job.fine_tuned_model} ({job.trained_tokens} trained tokens)"
                        + (f" is now the fine-tuned pipeline's model for {dataset}." if dataset else "."), markup=False)
    elif job.status in ("failed", "cancelled"):
        raise FineTuneError(f"Job {job.id} {job.status}: {job.error.message if job.error else ''}",
                            f"See `sandbox finetune status {job.id}`.")
    else:
        console().print(f"Follow it with: sandbox finetune status {job.id}", markup=False)


def _follow(client, job_id: str, quiet: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from sandbox.finetune import client as ft

    if quiet:
        return ft.follow(client, job_id)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
                  TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn()) as bar:
        task = bar.add_task("training", total=None, loss="-")

        def update(job, metrics):
            if metrics:
                last = metrics[-1]
                bar.update(task, total=last.get("total_steps"), completed=last.get("step", 0),
                           loss=f"{last.get('train_loss', 0):.4f}", description=f"{job.status} epoch {last.get('epoch', '?')}")
            else:
                bar.update(task, description=job.status)

        return ft.follow(client, job_id, update)


def _manage(ws, action: str, job_id: Optional[str], client, as_json: bool) -> None:
    from sandbox.finetune import client as ft

    if action == "list" or (action == "status" and not job_id):
        jobs = ft.call("list jobs", client.fine_tuning.jobs.list, limit=20).data
        if as_json:
            return print_json([j.model_dump() for j in jobs])
        for j in jobs:
            console().print(f"{j.id}  {j.status:<10} {j.fine_tuned_model or '-'}  created {j.created_at}", markup=False)
        if not jobs:
            console().print("No fine-tuning jobs yet. Start one with: sandbox finetune DATASET", markup=False)
        return None
    if not job_id:
        raise FineTuneError(f"`finetune {action}` needs a job id.", "List them with: sandbox finetune list")
    job = ft.call(f"{action} the job", client.fine_tuning.jobs.cancel if action == "cancel" else client.fine_tuning.jobs.retrieve, job_id)
    metrics = ft.metrics(client, job_id)
    if as_json:
        return print_json({**job.model_dump(), "metrics": metrics})
    console().print(f"{job.id}: {job.status}" + (f" -> {job.fine_tuned_model}" if job.fine_tuned_model else ""), markup=False)
    if metrics:
        m = metrics[-1]
        console().print(f"step {m.get('step')}/{m.get('total_steps')} epoch {m.get('epoch')} loss {m.get('train_loss')} "
                        f"tokens {m.get('tokens')} elapsed {m.get('elapsed_s')}s", markup=False)
    if job.error:
        console().print(f"error: {job.error.message}", markup=False)


def _export(ws, ref: Optional[str], out: Optional[Path], as_json: bool) -> None:
    from sandbox.finetune.export import export

    if not ref or out is None:
        raise FineTuneError("`finetune export` needs a job or model id and --out DIR.", "e.g. sandbox finetune export ftjob-... --out exported/")
    result = export(ws, ref, out)
    if as_json:
        return print_json(result)
    console().print(f"Adapter: {result['adapter']}\nMerged model: {result['merged']}\nServing recipe: {result['readme']}", markup=False)
