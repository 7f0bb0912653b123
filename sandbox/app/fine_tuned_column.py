"""The fine-tuned column before its model exists: the fine-tune's live state (queued / step n of N /
time left) or, when nothing is queued, the preflight verdict and a "Train now" button.

The comparison then runs the pipelines that can answer; the fine-tuned column says where its model
is. As soon as the job succeeds the model is registered (``sandbox.finetune.queue.column_state``),
so the next question includes it, without a restart.
"""

from __future__ import annotations

from sandbox import PIPELINES
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError
from sandbox.finetune import queue

FINE_TUNED = "fine-tuned"
POLL_S = 3.0


def state(ctx: AppContext, dataset: str | None) -> queue.ColumnState | None:
    """None when there is nothing to say (no dataset, or the model is registered)."""
    if not dataset or queue.has_model(ctx.workspace, dataset):
        return None
    found = queue.column_state(ctx.workspace, dataset)
    return None if found.ready else found


def pipelines_for(ctx: AppContext, dataset: str | None) -> list[str]:
    """The pipelines a question runs through now: fine-tuned only once its model exists."""
    return [p for p in PIPELINES if p != FINE_TUNED or state(ctx, dataset) is None]


def view(found: queue.ColumnState | None) -> tuple[str, bool, bool]:
    """(status text, show it?, show "Train now"?)."""
    if found is None:
        return "", False, False
    return found.text(), True, found.can_train


def train(ctx: AppContext, dataset: str | None) -> queue.ColumnState | None:
    if not dataset:
        return None
    try:
        return queue.train_now(ctx.workspace, dataset)
    except SandboxError as exc:
        return queue.ColumnState(dataset=dataset, status="failed", error=str(exc), preflight=queue.preflight_verdict(ctx.workspace, dataset))


def build(ctx: AppContext):
    """Status box + "Train now" + a poll timer; returns (refresh outputs, a refresh function)."""
    import gradio as gr

    status = gr.Textbox(label="Fine-tuned model", interactive=False, visible=False, lines=2, elem_id="ft-state")
    button = gr.Button("Train now", visible=False, variant="secondary", elem_id="train-now")
    timer = gr.Timer(POLL_S, active=False)
    outputs = [status, button, timer]

    def refresh(dataset):
        found = state(ctx, dataset)
        text, shown, trainable = view(found)
        return (gr.update(value=text, visible=shown), gr.update(visible=trainable),
                gr.Timer(active=bool(found and found.training)))

    def on_train(dataset):
        found = train(ctx, dataset)
        text, shown, trainable = view(found)
        return (gr.update(value=text, visible=shown), gr.update(visible=trainable),
                gr.Timer(active=bool(found and found.training)))

    button.click(on_train, ctx.dataset, outputs, api_visibility="private")
    timer.tick(refresh, ctx.dataset, outputs, api_visibility="private")
    ctx.dataset.change(refresh, ctx.dataset, outputs, api_visibility="private")
    return outputs, refresh
