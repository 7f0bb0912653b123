"""`sandbox scoreboard`: the stored evals of every dataset side by side, with the measured winner."""

from __future__ import annotations

from typing import Optional

import typer

from sandbox.commands.shared import JsonOpt, app, console, print_json, workspace


def print_boards(boards, as_json: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from sandbox.scoreboard import COLUMNS, RULE, rows

    if as_json:
        return print_json([b.model_dump() for b in boards])
    table = Table(title=Text("Scoreboard: primary metric per pipeline (mean [95% bootstrap CI]) and the measured winner"))
    for column in COLUMNS:
        table.add_column(column)
    for row in rows(boards):
        table.add_row(*(Text(cell) for cell in row))
    console().print(table)
    console().print(f"Winner: {RULE}.", markup=False)
    if not any(e.measured for b in boards for e in b.entries):
        console().print("Nothing evaluated yet: run `sandbox eval --all`.", markup=False)


@app.command("scoreboard")
def scoreboard_command(
    datasets: Optional[list[str]] = typer.Argument(None, help="Datasets to show (default: all)."),
    as_json: bool = JsonOpt,
    as_markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table (for a README or a report)."),
) -> None:
    """Per dataset, each pipeline's primary metric with its 95% interval, tokens, latency, cost and the
    measured winner (a tie unless the leader is measurably ahead on the same questions; a tie goes to the
    framework verdict, else the cheaper). Reads stored evals: run
    `sandbox eval --all` first (resumable)."""
    from sandbox.scoreboard import markdown, scoreboard

    ws = workspace()
    boards = scoreboard(ws, [ws.dataset_dir(d).name for d in datasets] if datasets else None)
    if as_markdown:
        return typer.echo(markdown(boards))
    print_boards(boards, as_json)
