"""The Fine-tune tab's "Learning curve" section: start/cancel a curve (a background job), its progress
(point k of n, step, ETA), the chart (metric vs training examples, log axis, 95% bands, few-shot/rag
reference lines) and the table. Handlers are plain functions over the same library as `sandbox curve`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from sandbox.app.context import AppContext
from sandbox.curve_job import start_job
from sandbox.curve_records import load_curve
from sandbox.errors import SandboxError
from sandbox.text import interval_text

COLUMNS = ["examples", "score [95% CI]", "trained tokens", "training s", "eval s", "cost $", "model"]


class CurveView(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    status: str
    figure: Any = None  # a matplotlib figure, None before the first point
    rows: list[list[str]] = []
    readout: str = ""
    active: bool = False  # a job is running: keep polling


def start(ctx: AppContext, dataset: str | None, sizes: str | None, epochs: int | None) -> str:
    if not dataset:
        return "Pick a dataset at the top first."
    job = start_job(ctx.curve_jobs, ctx.workspace, dataset, sizes=(sizes or "").strip() or None,
                    epochs=int(epochs or 3), eval_options={"stream_compare": ctx.stream_compare})
    return job.text()


def cancel(ctx: AppContext, dataset: str | None) -> str:
    job = ctx.curve_jobs.get(dataset or "")
    if job is None or not job.running:
        return "No learning curve is running for this dataset."
    job.cancel()
    return job.text()


def view(ctx: AppContext, dataset: str | None) -> CurveView:
    """The running curve of the dataset (else its latest stored one) as status, chart, table and read-outs."""
    if not dataset:
        return CurveView(status="Pick a dataset at the top first.")
    job = ctx.curve_jobs.get(dataset)
    curve_id = job.progress.curve_id if job and job.progress else None
    try:
        curve = load_curve(ctx.workspace, dataset, curve_id, store=ctx.store)
    except SandboxError as exc:
        return CurveView(status=f"Error: {exc}", active=bool(job and job.running))
    status = job.text() if job else ("No learning curve yet: press Start." if curve is None else
                                     f"Latest learning curve of {dataset} ({curve.status}).")
    if curve is None or not curve.points:
        return CurveView(status=status, active=bool(job and job.running))
    from sandbox.report import curve_figure  # matplotlib

    rows = [[str(p.size), interval_text(p.quality.mean, p.quality.low, p.quality.high), _cell(p.trained_tokens),
             _cell(p.train_seconds, ".0f"), _cell(p.eval_seconds, ".0f"), _cell(p.cost_usd, ".4f"),
             p.model + (" (registered)" if p.reused else "")] for p in curve.points]
    rows += [[f"{name} (reference)", interval_text(iv.mean, iv.low, iv.high), "", "", "", "", ""]
             for name, iv in curve.references.items()]
    lines = [f"Metric: {curve.metric} ({curve.metric_reason})."] + (curve.readout.lines() if curve.readout else [])
    return CurveView(status=status, figure=curve_figure(curve), rows=rows, readout="\n".join(lines),
                     active=bool(job and job.running))


def _cell(value, fmt: str = "d") -> str:
    return "—" if value is None else format(value, fmt)


def build(ctx: AppContext) -> None:
    """The section's components, inside the Fine-tune tab."""
    import gradio as gr
    import pandas as pd

    gr.Markdown("### Learning curve\nHow many examples do you need? Fine-tune on nested subsets of the training "
                "split (25, 50, 100, … all), score each model on the held-out questions, and see where more "
                "data stops paying. Finished points are kept: cancel or a restart loses only the running one.")
    with gr.Row():
        sizes = gr.Textbox(label="Sizes", placeholder="default: 25, 50, 100, … all", elem_id="curve-sizes")
        epochs = gr.Number(value=3, precision=0, minimum=1, label="Epochs", elem_id="curve-epochs")
        start_btn = gr.Button("Start learning curve", variant="primary", elem_id="curve-start")
        cancel_btn = gr.Button("Cancel curve", variant="stop", elem_id="curve-cancel")
    status = gr.Textbox(label="Curve progress", interactive=False, elem_id="curve-status")
    chart = gr.Plot(label="Learning curve", elem_id="curve-chart")
    readout = gr.Textbox(label="Read-outs", lines=3, interactive=False, elem_id="curve-readout")
    table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), interactive=False, elem_id="curve-table")
    timer = gr.Timer(2.0, active=False)

    def show(dataset):
        v = view(ctx, dataset)
        frame = pd.DataFrame(v.rows, columns=COLUMNS)
        return v.status, v.figure, v.readout, frame, gr.Timer(active=v.active)

    outputs = [status, chart, readout, table, timer]
    start_btn.click(lambda d, s, e: (start(ctx, d, s, e), gr.Timer(active=True)), [ctx.dataset, sizes, epochs],
                    [status, timer], api_visibility="private")
    cancel_btn.click(lambda d: cancel(ctx, d), ctx.dataset, status, api_visibility="private")
    timer.tick(show, ctx.dataset, outputs, api_visibility="private")
    ctx.dataset.change(show, ctx.dataset, outputs, api_visibility="private")
    ctx.on_load.append((show, outputs))
