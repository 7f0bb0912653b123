"""`sandbox eval`: run the held-out questions through the pipelines and score every answer."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sandbox.commands.shared import DatasetArg, JsonOpt, ReportOpt, app, console, print_json, workspace, write_report_file
from sandbox.commands.scoreboard import print_boards
from sandbox.text import interval_text


SHOWN = ("json_values", "fact_recall", "key_fact", "similarity", "token_f1", "exact_match", "hit_at_k", "supported", "cites", "judge_score")


def _fmt(interval) -> str:
    return interval_text(interval.mean, interval.low, interval.high)


def _print_summary(summary) -> None:
    from rich.table import Table
    from rich.text import Text

    rows = [s for s in summary.pipelines.values() if s.n]
    names = [m for m in SHOWN if any(m in s.metrics for s in rows)]
    table = Table(title=Text(f"Eval of {summary.dataset}: {summary.questions} questions (mean [95% bootstrap CI])"))
    for col in ["pipeline", "n", "errors", *names, "latency s", "load s (once)", "tokens in/out", "cost $/call"]:
        table.add_column(col)
    for s in rows:
        m = s.metrics
        cells = [_fmt(m[n]) if n in m else "—" for n in names]
        tokens = f"{m['prompt_tokens'].mean:.0f}/{m['completion_tokens'].mean:.0f}" if "prompt_tokens" in m else "—"
        table.add_row(s.pipeline, str(s.n), str(s.errors), *cells,
                      f"{m['latency_s'].mean:.2f}" if "latency_s" in m else "—", f"{s.load_s:.2f}", tokens,
                      f"{m['cost_usd'].mean:.6f}" if "cost_usd" in m else "—")
    console().print(table)
    if summary.quality_metric:
        console().print(f"Primary metric: {summary.quality_metric} ({summary.quality_reason}).")


@app.command("eval")
def eval_command(
    dataset: Optional[str] = DatasetArg,
    as_json: bool = JsonOpt,
    report: Optional[Path] = ReportOpt,
    pipelines: str = typer.Option("few-shot,rag,fine-tuned", "--pipelines", "-p", help="Comma-separated pipelines."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Only the first N held-out questions."),
    all_: bool = typer.Option(False, "--all", help="Every dataset with questions.jsonl, one after the other, then the scoreboard."),
) -> None:
    """Run the held-out questions (questions.jsonl) through the pipelines and score every answer.

    Resumable: answers already scored with the same pipeline configuration are not redone.
    Concurrency comes from [eval] concurrency; an LLM judge runs when [eval] judge_endpoint is set.
    """
    ws = workspace()
    names = [p.strip() for p in pipelines.split(",") if p.strip()]
    if all_:
        from sandbox.scoreboard import evaluable, scoreboard  # numpy, sqlalchemy: not for --help

        datasets = evaluable(ws)
        for name in datasets:
            _run(ws, name, names, limit, as_json)
        return print_boards(scoreboard(ws, datasets), as_json)
    summary = _run(ws, dataset, names, limit, as_json)
    if report:
        write_report_file(ws, summary.dataset, report)
    if as_json:
        print_json(summary.model_dump(mode="json"))
        return
    _print_summary(summary)
    console().print(f"{summary.ran} answered, {summary.skipped} already scored (skipped), "
                    f"{summary.judged} judged, {summary.seconds:.1f} s.")


def _run(ws, dataset: Optional[str], names: list[str], limit: Optional[int], quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sandbox.evaluate import run_eval

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(), transient=True, disable=quiet) as bar:
        task = bar.add_task(f"answering {dataset}" if dataset else "answering", total=None)
        return run_eval(ws, dataset, pipelines=names, limit=limit,
                        progress=lambda done, total: bar.update(task, completed=done, total=total))
