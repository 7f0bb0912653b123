"""Judgments tab: the same analysis as `sandbox judgments summary`, charts, and exports.

Tables are gr.Dataframe with plain string cells (judge names are user input: never HTML).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sandbox.judgment_stats import describe_separation, question_tags, summarize
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError
from sandbox.judgment_export import FORMATS, SUFFIX, export
from sandbox.training_export import AS_PROMPTS, DEFAULT_AS_PROMPT
from sandbox.report import error_bars

ALL = "(all datasets)"


def summary_for(ctx: AppContext, dataset: str | None) -> dict:
    dataset = None if dataset in (None, "", ALL) else dataset
    judgments = ctx.store.judgments(dataset)
    return summarize(judgments, question_tags(ctx.workspace, [dataset] if dataset else None))


def win_table(summary: dict) -> list[list[str]]:
    bt = summary["bradley_terry"]
    return [[r["pipeline"], str(r["wins"]), str(r["judgments"]), f"{r['win_rate']:.0%}",
             f"{r['ci_low']:.0%}–{r['ci_high']:.0%}", f"{bt.get(r['pipeline'], 0):.3f}"] for r in summary["win_rates"]]


def breakdown_table(groups: dict[str, list[dict]]) -> list[list[str]]:
    return [[group, r["pipeline"], str(r["wins"]), str(r["judgments"]), f"{r['win_rate']:.0%}"]
            for group, rows in groups.items() for r in rows]


def overview_text(summary: dict) -> str:
    if not summary["judgments"]:
        return "No judgments yet: ask a question in the Compare tab and vote."
    a = summary["agreement"]
    agree = ("no question judged by two people yet" if not a["pairs"] else
             f"{a['agreement']:.0%} agreement over {a['pairs']} judge pair(s) on {a['questions']} question(s)"
             + ("" if a["kappa"] is None else f", kappa {a['kappa']:.2f}"))
    verdicts = ", ".join(f"{k}: {v}" for k, v in sorted(summary["verdicts"].items()))
    return (f"{summary['judgments']} judgment(s) by {len(summary['judges'])} judge(s) ({verdicts}).\n"
            f"Agreement: {agree}.\n{describe_separation(summary['separation'])}")


def chart(summary: dict):
    """Win rate with 95% Wilson error bars, and Bradley–Terry strengths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    rows = summary["win_rates"]
    names = [r["pipeline"] for r in rows]
    rates = [r["win_rate"] for r in rows]
    errors = error_bars((r["win_rate"], r["ci_low"], r["ci_high"]) for r in rows)
    left.bar(names, rates, yerr=errors, capsize=6, color="#4c78a8")
    left.set_ylim(0, 1)
    left.set_title("Win rate (95% Wilson interval)")
    bt = summary["bradley_terry"]
    right.bar(list(bt), list(bt.values()), color="#f58518")
    right.set_title("Bradley–Terry strength")
    fig.tight_layout()
    plt.close(fig)
    return fig


def export_file(ctx: AppContext, fmt: str, dataset: str | None, as_prompt: str = DEFAULT_AS_PROMPT) -> str:
    dataset = None if dataset in (None, "", ALL) else dataset
    folder = Path(tempfile.mkdtemp(prefix="sandbox-export-"))
    name = f"judgments-{dataset or 'all'}{SUFFIX[fmt]}"
    return export(ctx.store, fmt, folder / name, dataset, workspace=ctx.workspace, as_prompt=as_prompt)["path"]


def build(ctx: AppContext) -> None:
    import gradio as gr

    win_headers = ["pipeline", "wins", "shown", "win rate", "95% CI", "Bradley–Terry"]
    group_headers = ["group", "pipeline", "wins", "shown", "win rate"]
    with gr.Tab("Judgments", id="judgments") as tab:
        with gr.Row():
            scope = gr.Dropdown(choices=[ALL, *ctx.datasets()], value=ALL, label="Judgments of", elem_id="judgments-scope")
            refresh = gr.Button("Refresh", elem_id="judgments-refresh")
        overview = gr.Textbox(label="Overview", lines=3, interactive=False, elem_id="judgments-overview")
        plot = gr.Plot(label="Preferences")
        wins = gr.Dataframe(headers=win_headers, label="Win rate per pipeline", interactive=False, elem_id="win-table")
        with gr.Row():
            by_tag = gr.Dataframe(headers=group_headers, label="By question tag", interactive=False)
            by_judge = gr.Dataframe(headers=group_headers, label="By judge", interactive=False)
        with gr.Row():
            fmt = gr.Radio(choices=list(FORMATS), value="csv", label="Export format",
                           info="finetune: preferred answers as chat JSONL; pairs: TRL prompt/chosen/rejected JSONL")
            as_prompt = gr.Radio(choices=list(AS_PROMPTS), value=DEFAULT_AS_PROMPT, label="finetune/pairs: train on the prompt of",
                                 info="the pipeline whose prompt the examples carry (rag: with the contexts its run was shown)")
            export_btn = gr.Button("Export", elem_id="export")
        download = gr.File(label="Download", interactive=False)

        def on_refresh(dataset: str) -> dict[Any, Any]:
            summary = summary_for(ctx, dataset)
            return {overview: overview_text(summary), plot: chart(summary) if summary["judgments"] else None,
                    wins: win_table(summary), by_tag: breakdown_table(summary["by_question_tag"]),
                    by_judge: breakdown_table(summary["by_judge"])}

        def on_export(format_: str, dataset: str, prompt_of: str) -> str:
            return export_file(ctx, format_, dataset, prompt_of)

        outputs = [overview, plot, wins, by_tag, by_judge]
        gr.on([refresh.click, tab.select, scope.change], on_refresh, scope, outputs, api_visibility="private")
        export_btn.click(on_export, [fmt, scope, as_prompt], download, api_visibility="private")

        def summary(dataset: str = "") -> dict:
            """The judgments analysis (win rates, Bradley–Terry, agreement...) of one dataset or all."""
            try:
                return summary_for(ctx, dataset or None)
            except SandboxError as exc:  # e.g. a dataset that is not one of the workspace's
                raise gr.Error(str(exc)) from exc

        gr.api(summary, api_name="summary")
