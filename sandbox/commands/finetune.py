"""`sandbox check-data` and the `sandbox finetune` group: start, status, cancel, list, export.

Verbs are subcommands, so a dataset may be called anything (`sandbox finetune start list`);
`sandbox finetune DATASET` stays a shorthand for `start DATASET` when DATASET is not a verb.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from sandbox.commands.shared import JsonOpt, app, console, print_json, workspace
from sandbox.errors import FineTuneError
from sandbox.finetune import client as ft
from sandbox.finetune.adapter_export import export_adapter
from sandbox.finetune.launch import endpoint_name, launch, register, run_preflight
from sandbox.finetune.preflight import render
from sandbox.finetune.queue import endpoint_of, marked, queue_missing
from sandbox.finetune.state import TERMINAL
from sandbox.localserver import local_base_url

ProviderOpt = typer.Option("local", "--provider", help="local (LoRA on the built-in model) or openai.")
EndpointOpt = typer.Option(None, "--endpoint", help="Any endpoint NAME from sandbox.toml that speaks OpenAI's fine-tuning API.")


class StartByDefault(TyperGroup):
    """A group whose first argument, when it is not a verb (nor --help), is the dataset of `start`."""

    default_command = "start"

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


finetune_app = typer.Typer(cls=StartByDefault, no_args_is_help=True, help=(
    "Fine-tune on a dataset's examples: `start DATASET` (or just `finetune DATASET`) preflights, uploads, "
    "trains, follows and registers the model for the fine-tuned pipeline; then `status`, `cancel`, `list`, `export`."))
app.add_typer(finetune_app, name="finetune")


@app.command("check-data")
def check_data(
    target: Optional[str] = typer.Argument(None, help="A dataset name (corpora/NAME) or an examples file (.jsonl / .csv)."),
    endpoint: str = typer.Option("local", "--endpoint", help="Endpoint whose training price the cost estimate uses."),
    epochs: int = typer.Option(3, "--epochs", help="Epochs assumed by the cost estimate."),
    as_json: bool = JsonOpt,
) -> None:
    """Preflight fine-tuning data: format errors by line, token stats, duplicates, leakage, split, cost."""
    ws = workspace()
    report, _, _ = run_preflight(ws, target, endpoint_name(ws, endpoint), epochs)
    if as_json:
        print_json(report.model_dump())
    else:
        console().print(render(report), markup=False)
    if not report.ok:
        raise typer.Exit(1)


@finetune_app.command("start")
def start(
    target: Optional[str] = typer.Argument(None, help="DATASET (corpora/NAME) or examples file to fine-tune on (default: the first dataset)."),
    provider: str = ProviderOpt,
    endpoint: Optional[str] = EndpointOpt,
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the job until it ends (progress bar)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs (default: 3 locally, the provider's 'auto' remotely)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    lr_multiplier: Optional[float] = typer.Option(None, "--lr-multiplier", min=0.0),
    suffix: Optional[str] = typer.Option(None, "--suffix", help="Part of the model name (default: the dataset name)."),
    all_marked: bool = typer.Option(False, "--all", help="Instead of one DATASET: queue a fine-tune for every dataset marked "
                                    "`auto_finetune = true` in sandbox.toml that has no model yet (smallest first, one trains "
                                    "at a time); `make demo` runs it."),
    as_json: bool = JsonOpt,
) -> None:
    """Preflight, upload, train, follow and register the model for the fine-tuned pipeline."""
    ws = workspace()
    if all_marked:
        return _queue_all(ws, wait, as_json)
    name = endpoint_name(ws, provider, endpoint)
    if not wait:
        _exits_soon(ws, name)
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
    elif job.status in TERMINAL:
        raise FineTuneError(f"Job {job.id} {job.status}: {job.error.message if job.error else ''}",
                            f"See `sandbox finetune status {job.id}`.")
    else:
        console().print(f"Follow it with: sandbox finetune status {job.id}" + _who_trains(ws, name),
                        markup=False)


@finetune_app.command("list")
def list_jobs(provider: str = ProviderOpt, endpoint: Optional[str] = EndpointOpt, as_json: bool = JsonOpt) -> None:
    """The 20 most recent fine-tuning jobs of the provider."""
    _list(_client(provider, endpoint), as_json)


@finetune_app.command("status")
def status(job_id: Optional[str] = typer.Argument(None, metavar="[JOB]", help="Job id (default: list the jobs)."),
           provider: str = ProviderOpt, endpoint: Optional[str] = EndpointOpt, as_json: bool = JsonOpt) -> None:
    """A job's status and its latest step metrics (without JOB: the job list)."""
    client = _client(provider, endpoint)
    if job_id is None:
        return _list(client, as_json)
    _show(client, ft.call("status the job", client.fine_tuning.jobs.retrieve, job_id), as_json)


@finetune_app.command("cancel")
def cancel(job_id: str = typer.Argument(..., metavar="JOB", help="Job id (see `sandbox finetune list`)."),
           provider: str = ProviderOpt, endpoint: Optional[str] = EndpointOpt, as_json: bool = JsonOpt) -> None:
    """Cancel a running job."""
    client = _client(provider, endpoint)
    _show(client, ft.call("cancel the job", client.fine_tuning.jobs.cancel, job_id), as_json)


@finetune_app.command("export")
def export(ref: str = typer.Argument(..., metavar="JOB_OR_MODEL", help="A local job id or fine-tuned model id."),
           out: Path = typer.Option(..., "--out", help="Folder to write the adapter and merged model into."),
           as_json: bool = JsonOpt) -> None:
    """Write a local job's LoRA adapter, the merged HF model and a serving recipe to --out."""
    result = export_adapter(workspace(), ref, out)
    if as_json:
        return print_json(result)
    console().print(f"Adapter: {result['adapter']}\nMerged model: {result['merged']}\nServing recipe: {result['readme']}", markup=False)


def _who_trains(ws, endpoint: str) -> str:
    local = _is_local(ws, endpoint)
    return " (a local job trains while `sandbox app` or `sandbox serve` runs for this workspace)" if local else ""


def _is_local(ws, endpoint: str) -> bool:
    config = ws.settings.endpoints.get(endpoint)
    return bool(config and config.is_local)


def _exits_soon(ws, endpoint: str) -> None:
    """This process ends before any training would (``--no-wait``, ``list``, ``status``, ``cancel``), and a
    training worker stops with the process that started it: so this process's built-in server never starts
    one; the app's (or ``sandbox serve``'s) queue watcher starts queued jobs."""
    if _is_local(ws, endpoint):
        local_base_url(ws, lasting=False)


def _client(provider: str, endpoint: Optional[str]):
    ws = workspace()
    name = endpoint_name(ws, provider, endpoint)
    _exits_soon(ws, name)
    return ft.make_client(ws, name)


def _queue_all(ws, wait: bool, as_json: bool) -> None:
    if not marked(ws):
        raise FineTuneError("No dataset is marked for automatic fine-tuning.",
                            "Add `auto_finetune = true` under [datasets.NAME] in sandbox.toml, or run `sandbox finetune start NAME`.")
    if not wait:
        _exits_soon(ws, endpoint_of(ws))
    client = ft.make_client(ws, endpoint_of(ws))
    rows = queue_missing(ws, client=client)
    for row in rows:
        if not as_json:
            console().print(f"{row['dataset']}: {row['action']} {row['job'] or row['model']}", markup=False)
        if wait and row["job"] and not row["model"]:
            job = _follow(client, row["job"], quiet=as_json)
            row["action"], row["model"] = job.status, job.fine_tuned_model or ""
            register(ws, row["dataset"], job)
    if not wait and not as_json and any(r["action"] == "queued" for r in rows):
        console().print("Queued jobs train one at a time, smallest first" + _who_trains(ws, endpoint_of(ws))
                        + ".", markup=False)
    if as_json:
        print_json(rows)


def _follow(client, job_id: str, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if quiet:
        return ft.follow(client, job_id)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("step"), MofNCompleteColumn(),
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


def _list(client, as_json: bool) -> None:
    jobs = ft.call("list jobs", client.fine_tuning.jobs.list, limit=20).data
    if as_json:
        return print_json([j.model_dump() for j in jobs])
    for j in jobs:
        console().print(f"{j.id}  {j.status:<10} {j.fine_tuned_model or '-'}  created {j.created_at}", markup=False)
    if not jobs:
        console().print("No fine-tuning jobs yet. Start one with: sandbox finetune start DATASET", markup=False)


def _show(client, job, as_json: bool) -> None:
    metrics = ft.metrics(client, job.id)
    if as_json:
        return print_json({**job.model_dump(), "metrics": metrics})
    console().print(f"{job.id}: {job.status}" + (f" -> {job.fine_tuned_model}" if job.fine_tuned_model else ""), markup=False)
    if metrics:
        m = metrics[-1]
        console().print(f"step {m.get('step')}/{m.get('total_steps')} epoch {m.get('epoch')} loss {m.get('train_loss')} "
                        f"tokens {m.get('tokens')} elapsed {m.get('elapsed_s')}s", markup=False)
    if job.error:
        console().print(f"error: {job.error.message}", markup=False)
