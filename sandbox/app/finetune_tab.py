"""Fine-tune tab: the preflight report, start/cancel a local (or remote) job, live progress
and a loss chart. Handlers are plain functions over the same library as `sandbox finetune`."""

from __future__ import annotations

from typing import Any

from sandbox.app import curve_section
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError
from sandbox.finetune import client as ft
from sandbox.finetune.launch import endpoint_name, launch, register, run_preflight
from sandbox.finetune.preflight import render
from sandbox.finetune.state import TERMINAL


def preflight_text(ctx: AppContext, dataset: str | None) -> str:
    if not dataset:
        return "Pick a dataset at the top first."
    try:
        return render(run_preflight(ctx.workspace, dataset)[0])
    except SandboxError as exc:
        return f"Error: {exc}"


def start(ctx: AppContext, dataset: str | None, epochs: int | None, endpoint: str = "local") -> tuple[str, str]:
    """(job id or '', message)."""
    if not dataset:
        return "", "Pick a dataset at the top first."
    try:
        run = launch(ctx.workspace, dataset, endpoint_name(ctx.workspace, endpoint), epochs=int(epochs) if epochs else None)
    except SandboxError as exc:
        return "", f"Error: {exc}"
    return run.job.id, (f"Job {run.job.id} {run.job.status}: {run.n_train} train / {run.n_validation} validation "
                        f"examples, about {run.report.estimated_trained_tokens} tokens to train.")


def _client(ctx: AppContext, endpoint: str = "local"):
    return ft.make_client(ctx.workspace, endpoint_name(ctx.workspace, endpoint))


def progress(ctx: AppContext, job_id: str | None, dataset: str | None, endpoint: str = "local") -> tuple[str, list[dict[str, Any]], bool]:
    """(status text, step metrics, finished?); a succeeded job becomes the dataset's fine-tuned model."""
    if not job_id:
        return "No job running.", [], True
    try:
        client = _client(ctx, endpoint)
        job = ft.call("read the job", client.fine_tuning.jobs.retrieve, job_id)
        metrics = ft.metrics(client, job_id, limit=1000)
    except SandboxError as exc:
        return f"Error: {exc}", [], True
    text = f"{job.id}: {job.status}"
    if metrics:
        m = metrics[-1]
        text += (f" - step {m['step']}/{m.get('total_steps')} (epoch {m.get('epoch')}), loss {m['train_loss']:.4f}, "
                 f"{m.get('tokens')} tokens in {m.get('elapsed_s')}s, about {m.get('eta_s', 0):.0f}s left")
    if job.status == "succeeded":
        registered = register(ctx.workspace, dataset, job)
        text += f"\nModel {job.fine_tuned_model}" + (f" is now the fine-tuned pipeline's model for {dataset}." if registered else ".")
    if job.error:
        text += f"\nError: {job.error.message}"
    return text, metrics, job.status in TERMINAL


def cancel(ctx: AppContext, job_id: str | None, endpoint: str = "local") -> str:
    if not job_id:
        return "No job to cancel."
    try:
        job = ft.call("cancel the job", _client(ctx, endpoint).fine_tuning.jobs.cancel, job_id)
    except SandboxError as exc:
        return f"Error: {exc}"
    return f"{job.id}: {job.status}"


def build(ctx: AppContext) -> None:
    import gradio as gr
    import pandas as pd

    with gr.Tab("Fine-tune", id="finetune"):
        gr.Markdown("Check the dataset's examples, then train a LoRA adapter on the built-in model (locally, "
                    "in a background process). When it succeeds, the fine-tuned pipeline uses it for this dataset.")
        report = gr.Textbox(label="Preflight report", lines=10, interactive=False, elem_id="ft-report")
        with gr.Row():
            check_btn = gr.Button("Check data", elem_id="ft-check")
            epochs = gr.Number(value=3, precision=0, minimum=1, label="Epochs", elem_id="ft-epochs")
            start_btn = gr.Button("Start fine-tune", variant="primary", elem_id="ft-start")
            cancel_btn = gr.Button("Cancel", variant="stop", elem_id="ft-cancel")
        job_id = gr.Textbox(label="Job", interactive=True, elem_id="ft-job")
        status = gr.Textbox(label="Progress", lines=3, interactive=False, elem_id="ft-status")
        chart = gr.LinePlot(pd.DataFrame({"step": [], "train_loss": []}), x="step", y="train_loss",
                            title="Training loss", elem_id="ft-loss")
        timer = gr.Timer(2.0, active=False)

        def frame(metrics):
            return pd.DataFrame([{"step": m["step"], "train_loss": m["train_loss"]} for m in metrics],
                                columns=["step", "train_loss"])

        def on_start(dataset, n):
            jid, message = start(ctx, dataset, n)
            return jid, message, gr.Timer(active=bool(jid))

        def on_tick(jid, dataset):
            text, metrics, done = progress(ctx, jid, dataset)
            return text, frame(metrics), gr.Timer(active=not done)

        check_btn.click(lambda d: preflight_text(ctx, d), ctx.dataset, report, api_visibility="private")
        start_btn.click(on_start, [ctx.dataset, epochs], [job_id, status, timer], api_visibility="private")
        cancel_btn.click(lambda j: cancel(ctx, j), job_id, status, api_visibility="private")
        timer.tick(on_tick, [job_id, ctx.dataset], [status, chart, timer], api_visibility="private")
        job_id.submit(lambda: gr.Timer(active=True), None, timer, api_visibility="private")
        curve_section.build(ctx)
