"""One line above the Compare tab's columns: the dataset's current verdict and its top reason,
with a button to the Advisor tab where every reason and number is shown."""

from __future__ import annotations

from sandbox.advisor import advise
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError


def line(ctx: AppContext, dataset: str | None) -> str:
    """Plain text (rendered as text, never markup: it quotes dataset names and evidence)."""
    if not dataset:
        return ""
    try:
        advice = advise(ctx.workspace, dataset, store=ctx.store)
    except SandboxError as exc:
        return f"No verdict for {dataset} yet: {exc}"
    basis = "measured" if getattr(advice, "measured", False) else "from data signals only"
    reason = advice.top_reason()
    return f"Verdict for {dataset}: {advice.recommendation} ({basis})" + (f". Top reason: {reason}" if reason else "")


def build(ctx: AppContext) -> None:
    import gradio as gr

    with gr.Row(equal_height=True):
        text = gr.Textbox(show_label=False, container=False, interactive=False, elem_id="verdict-line", scale=6)
        go = gr.Button("Why? Open the Advisor tab", size="sm", elem_id="verdict-advisor", scale=1)
    go.click(lambda: gr.Tabs(selected="advisor"), None, ctx.tabs, api_visibility="private")
    ctx.dataset.change(lambda d: line(ctx, d), ctx.dataset, text, api_visibility="private")
    ctx.on_load.append((lambda d: line(ctx, d), [text]))
    return text
