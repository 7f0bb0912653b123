"""The Gradio app: a factory (``build_app``) separate from ``launch()``; one module per tab.

Tab contract: a module exposes ``build(ctx: AppContext) -> None``; it is called inside
``gr.Tabs()`` and creates its own ``gr.Tab``. Tabs keep layout and event wiring; what they do
lives in the library (``sandbox.judging``, ``sandbox.datasets``, ``sandbox.evaluate``, ...).
"""

from __future__ import annotations

from typing import Any

from sandbox.app import (advisor_tab, compare_tab, data_tab, evaluate_tab, finetune_tab, judgments_tab, session_view,
                         sessions_tab)
from sandbox.app.context import AppContext
from sandbox.app.serving import CACHE_CLEANUP
from sandbox.config import Workspace

TABS = (compare_tab, judgments_tab, sessions_tab, data_tab, finetune_tab, evaluate_tab, advisor_tab)  # in display order
JUDGE_STORAGE_KEY = "sandbox-judge-name"


def build_app(workspace: Workspace, ctx: AppContext | None = None, **overrides: Any):
    """Build the Blocks for a workspace; ``ctx`` (or ``overrides``) injects services for tests."""
    import gradio as gr

    ctx = ctx or AppContext.for_workspace(workspace, **overrides)
    with gr.Blocks(title="sandbox: prompting vs RAG vs fine-tuning", delete_cache=CACHE_CLEANUP) as demo:
        with gr.Row():
            gr.Markdown("## sandbox: few-shot vs RAG vs fine-tuned, side by side")
        with gr.Row():
            ctx.dataset = gr.Dropdown(
                choices=ctx.datasets(), value=ctx.default_dataset(), label="Dataset", elem_id="dataset", scale=2
            )
            ctx.judge_name = gr.Textbox(
                label="Your name (for judging)", placeholder="asked once, remembered in this browser",
                elem_id="judge-name", scale=2, max_length=80,
            )
        remembered = gr.BrowserState("", storage_key=JUDGE_STORAGE_KEY)
        with gr.Column() as main, gr.Tabs() as ctx.tabs:
            for tab in TABS:
                tab.build(ctx)
        for fn, outputs in ctx.on_load:
            demo.load(fn, ctx.dataset, outputs, api_visibility="private")
        # The judge's name is asked once per browser (or is the login): restored on load, remembered on change.
        session_view.build(ctx, demo, main, remembered)  # also shown instead of the tabs for /?session=ID
        ctx.judge_name.change(lambda name: (name or "").strip(), ctx.judge_name, remembered, api_visibility="private")
    demo.ctx = ctx  # tests and the CLI reach the handlers' dependencies through the app
    return demo
