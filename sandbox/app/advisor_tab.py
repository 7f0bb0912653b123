"""Advisor tab: the verdict, the reasons with their numbers, next steps, and the report to download."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

from sandbox.advisor import QUESTIONS
from sandbox.advisor import advise as run
from sandbox.app import popups
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError
from sandbox.files import safe_filename
from sandbox.report import write_report
from sandbox.scoreboard import COLUMNS, RULE, rows, scoreboard

REASON_COLUMNS = ["decision", "rule", "favours", "weight", "evidence"]


def advise(ctx: AppContext, dataset: str):
    return run(ctx.workspace, dataset, store=ctx.store)


def verdict_markdown(advice) -> str:
    """Verdict, the answer to each question, and why not the others; user text escaped."""
    also = f" (also **{advice.also}**)" if advice.also else ""
    basis = "evaluations and judgments included" if advice.measured else "from data signals only"
    lines = [f"### {html.escape(advice.dataset)}: **{advice.recommendation}**{also}",
             f"Confidence {advice.confidence:.2f} ({basis})."]
    lines += [f"- **{QUESTIONS[d]}** {html.escape(a)}" for d, a in advice.answers.items()]
    lines += [f"- Why not {p}: {html.escape(t)}" for p, t in advice.why_not.items()]
    return "\n".join(lines)


def reasons_table(advice) -> list[list[str]]:
    return [[r.decision, r.rule, r.favours or "—", f"{r.weight:g}", r.evidence] for r in advice.reasons]


def steps_text(advice) -> str:
    return "\n".join(f"- {s}" for s in advice.next_steps)


def report_file(ctx: AppContext, dataset: str, suffix: str = ".html") -> str:
    folder = Path(tempfile.mkdtemp(prefix="sandbox-report-"))
    name = safe_filename(f"report-{dataset}{suffix}")
    return str(write_report(ctx.workspace, dataset, folder / name, store=ctx.store))


def scoreboard_rows(ctx: AppContext) -> list[list[str]]:
    return rows(scoreboard(ctx.workspace, store=ctx.store))


def build(ctx: AppContext) -> None:
    import gradio as gr

    with gr.Tab("Advisor", id="advisor") as tab:
        gr.Markdown("Which approach fits this data? The rules of the decision framework applied to the dataset's "
                    "signals, the eval results and the judgments, each with the number behind it.")
        with gr.Row():
            go = gr.Button("Advise", variant="primary", elem_id="advise-run")
            fmt = gr.Radio(choices=[".html", ".md"], value=".html", label="Report format")
            make = gr.Button("Build report", elem_id="advise-report")
        verdict = gr.Markdown(elem_id="advise-verdict")
        reasons = gr.Dataframe(headers=REASON_COLUMNS, label="Reasons", interactive=False, wrap=True, elem_id="advise-reasons")
        steps = gr.Textbox(label="Next steps", lines=4, interactive=False, elem_id="advise-steps")
        download = gr.File(label="Report", interactive=False)
        gr.Markdown("#### Scoreboard: every dataset's stored evals and the measured winner")
        board = gr.Dataframe(headers=COLUMNS, label=f"Winner: {RULE}", interactive=False, wrap=True,
                             elem_id="advise-scoreboard")

        def on_advise(dataset: str):
            if not dataset:
                return "No dataset selected.", [], ""
            try:
                advice = advise(ctx, dataset)
            except SandboxError as exc:  # a domain error's message says how to fix it
                raise popups.error(exc) from exc
            return verdict_markdown(advice), reasons_table(advice), steps_text(advice)

        def on_report(dataset: str, suffix: str) -> str:
            try:
                return report_file(ctx, dataset, suffix)
            except SandboxError as exc:
                raise popups.error(exc) from exc

        gr.on([go.click, tab.select, ctx.dataset.change], on_advise, ctx.dataset, [verdict, reasons, steps],
              api_visibility="private")
        tab.select(lambda: scoreboard_rows(ctx), None, board, api_visibility="private")
        make.click(on_report, [ctx.dataset, fmt], download, api_visibility="private")
