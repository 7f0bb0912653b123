"""Evaluate tab: run the held-out eval with a progress bar, see the scores with intervals and charts.

Handlers are plain functions of ``AppContext`` so tests call them directly; every cell is plain
text (model output is never rendered as HTML).
"""

from __future__ import annotations

from typing import Any

from sandbox import PIPELINES
from sandbox.app import popups
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError
from sandbox.evaluate import load_summary, run_eval
from sandbox.report import chart_cost_latency, chart_quality
from sandbox.text import interval_text

COLUMNS = ["pipeline", "model", "n", "errors", "quality metric", "quality [95% CI]", "hit@k", "supported",
           "latency s", "load s (once)", "tokens in/out", "cost $/call"]


def _iv(summary_row, name: str) -> str:
    iv = summary_row.metrics.get(name)
    return interval_text(iv.mean, iv.low, iv.high) if iv else "—"


def results_table(summary) -> list[list[str]]:
    rows = []
    for s in summary.pipelines.values():
        if not s.n:
            continue
        m = s.metrics
        tokens = f"{m['prompt_tokens'].mean:.0f}/{m['completion_tokens'].mean:.0f}" if "prompt_tokens" in m else "—"
        rows.append([s.pipeline, s.model, str(s.n), str(s.errors), summary.quality_metric or "—",
                     _iv(s, summary.quality_metric) if summary.quality_metric else "—", _iv(s, "hit_at_k"),
                     _iv(s, "supported"), f"{m['latency_s'].mean:.2f}" if "latency_s" in m else "—", f"{s.load_s:.2f}", tokens,
                     f"{m['cost_usd'].mean:.6f}" if "cost_usd" in m else "—"])
    return rows


def status_text(summary) -> str:
    if not summary.measured:
        return "Not evaluated yet with the current pipeline settings: press Run eval."
    ran = "" if summary.seconds is None else f" This run: {summary.ran} answered, {summary.skipped} reused, {summary.judged} judged, {summary.seconds:.1f} s."
    return f"{summary.questions} held-out questions scored (mean [95% bootstrap interval]).{ran}"


def image(data_uri: str | None):
    """A chart rendered by sandbox.report (base64 PNG) as a PIL image for gr.Image."""
    if not data_uri:
        return None
    import base64
    import io

    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))


def run(ctx: AppContext, dataset: str, pipelines: list[str], limit: float | None, progress=None):
    def report(done: int, total: int) -> None:
        if progress is not None and total:
            progress(done / total, desc=f"{done}/{total} answers")

    return run_eval(ctx.workspace, dataset, pipelines=pipelines or list(PIPELINES),
                    limit=int(limit) if limit else None, store=ctx.store, progress=report,
                    stream_compare=ctx.stream_compare)


def current(ctx: AppContext, dataset: str):
    return load_summary(ctx.workspace, dataset, store=ctx.store)


def views(summary) -> tuple[str, list[list[str]], Any, Any]:
    return status_text(summary), results_table(summary), image(chart_quality(summary)), image(chart_cost_latency(summary))


def build(ctx: AppContext) -> None:
    import gradio as gr

    with gr.Tab("Evaluate", id="evaluate") as tab:
        gr.Markdown("Run every held-out question (questions.jsonl) through the pipelines and score the answers. "
                    "Answers already scored with the same settings are reused.")
        with gr.Row():
            pipes = gr.CheckboxGroup(choices=list(PIPELINES), value=list(PIPELINES), label="Pipelines", elem_id="eval-pipelines")
            limit = gr.Number(value=None, label="Only the first N questions (empty: all)", precision=0, minimum=1,
                              elem_id="eval-limit")
            go = gr.Button("Run eval", variant="primary", elem_id="eval-run")
        status = gr.Textbox(label="Status", interactive=False, elem_id="eval-status")
        table = gr.Dataframe(headers=COLUMNS, label="Results", interactive=False, elem_id="eval-table")
        with gr.Row():
            quality = gr.Image(label="Quality", type="pil", interactive=False)
            cost = gr.Image(label="Latency and tokens", type="pil", interactive=False)

        def on_run(dataset: str, pipelines: list[str], n: float | None, progress=gr.Progress()):
            try:
                return views(run(ctx, dataset, pipelines, n, progress))
            except SandboxError as exc:  # show the message and how to fix it; keep the app alive
                raise popups.error(exc) from exc

        def on_show(dataset: str):
            if not dataset:
                return "No dataset selected.", [], None, None
            return views(current(ctx, dataset))

        outputs = [status, table, quality, cost]
        go.click(on_run, [ctx.dataset, pipes, limit], outputs, api_visibility="private")
        gr.on([tab.select, ctx.dataset.change], on_show, ctx.dataset, outputs, api_visibility="private")
