"""`sandbox curve DATASET`: a learning curve — fine-tune on growing nested subsets, score each model."""

from __future__ import annotations

from typing import Optional

import typer

from sandbox.commands.shared import DatasetArg, JsonOpt, app, console, print_json, workspace
from sandbox.text import interval_text


@app.command("curve")
def curve_command(
    dataset: Optional[str] = DatasetArg,
    sizes: Optional[str] = typer.Option(None, "--sizes", help='Training sizes, e.g. "25,50,100,all" (default: 25, 50, '
                                        '100, ... doubling below the training split\'s size, then all of it).'),
    epochs: int = typer.Option(3, "--epochs", min=1, help="Epochs per fine-tune (3, as `sandbox finetune`, lets the "
                               "full-size point reuse the dataset's registered fine-tune)."),
    provider: Optional[str] = typer.Option(None, "--provider", help="local (LoRA on the built-in model) or openai "
                                           "(default: where the fine-tuned pipeline's models are served, [pipelines.fine-tuned] endpoint)."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Any endpoint NAME from sandbox.toml that speaks "
                                           "OpenAI's fine-tuning API."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Score on the first N held-out questions only "
                                        "(faster; a separate curve from the all-questions one)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    lr_multiplier: Optional[float] = typer.Option(None, "--lr-multiplier", min=0.0),
    references: bool = typer.Option(True, "--references/--no-references", help="Also evaluate few-shot and rag on the "
                                    "same questions when no stored eval covers them (the chart's reference lines)."),
    as_json: bool = JsonOpt,
) -> None:
    """How many examples do you need? Fine-tune on nested, stratified subsets of the training split
    (each contains the smaller ones), score each model with the fine-tuned pipeline on the held-out
    questions, and print the primary metric per size with its 95% interval, training tokens, time and cost.

    Resumable: sizes already trained and scored are reused (Ctrl-C or a crash loses only the running point);
    local trainings queue with other local fine-tunes, one at a time.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sandbox.curve import run_curve

    ws = workspace()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(), transient=True, disable=as_json) as bar:
        task = bar.add_task("learning curve", total=None)

        def show(p) -> None:
            bar.update(task, description=p.text(), completed=p.point - (p.phase != "done"), total=p.points)

        curve = run_curve(ws, dataset, sizes=sizes, epochs=epochs, limit=limit, provider=provider, endpoint=endpoint,
                          batch_size=batch_size, lr_multiplier=lr_multiplier, references=references, on_progress=show)
    if as_json:
        return print_json(curve.model_dump(mode="json"))
    print_curve(curve)


def print_curve(curve) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"Learning curve of {curve.dataset}: {curve.metric} (mean [95% bootstrap CI]), "
                             f"{curve.epochs} epochs on {curve.endpoint}"))
    for col in ("examples", curve.metric, "trained tokens", "training s", "eval s", "cost $", "model"):
        table.add_column(col)
    for p in curve.points:
        table.add_row(str(p.size), interval_text(p.quality.mean, p.quality.low, p.quality.high),
                      _num(p.trained_tokens), _num(p.train_seconds, ".0f"), _num(p.eval_seconds, ".0f"),
                      _num(p.cost_usd, ".4f"), p.model + (" (registered fine-tune)" if p.reused else ""))
    for name, iv in curve.references.items():
        table.add_row(f"{name} (reference)", interval_text(iv.mean, iv.low, iv.high), "", "", "", "", "")
    out = console()
    out.print(table)
    for line in curve.readout.lines() if curve.readout else []:
        out.print(line, markup=False)
    if curve.seconds is not None:
        out.print(f"Done in {curve.seconds:.0f} s.", markup=False)


def _num(value, fmt: str = "d") -> str:
    return "—" if value is None else format(value, fmt)
