"""The typer app every command registers on, and the options and helpers commands share."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

from sandbox.config import load_workspace

app = typer.Typer(
    help="Find out on your own data whether prompting, RAG or fine-tuning is the right approach.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

WorkspaceOpt = typer.Option(None, "--workspace", "-w", envvar="SANDBOX_WORKSPACE", help="Workspace folder (default: nearest with sandbox.toml or corpora/).")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")
DatasetArg = typer.Argument(None, help="Dataset under corpora/ (default: the first one).")
ReportOpt = typer.Option(None, "--report", help="Also write a stakeholder report: FILE.html (self-contained) or FILE.md.")


class State:
    workspace: Optional[str] = None


state = State()


@app.callback()
def _main(workspace: Optional[str] = WorkspaceOpt) -> None:
    state.workspace = workspace


def workspace():
    return load_workspace(state.workspace)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def write_report_file(ws, dataset: str, path, advice=None) -> None:
    from sandbox.report import write_report  # matplotlib

    written = write_report(ws, dataset, path, advice=advice)
    typer.echo(f"Report written to {written}", err=True)


def console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)
