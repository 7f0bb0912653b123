"""The `sandbox` command line: a thin face over the library (the UI is the other one).

Heavy libraries (torch, chromadb, gradio) are imported inside commands so that
``sandbox --help`` stays instant. Domain errors become one message that says how to fix.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from typing import Any, Optional

import typer

from sandbox import commands
from sandbox.config import load_workspace
from sandbox.errors import SandboxError

app = typer.Typer(
    help="Find out on your own data whether prompting, RAG or fine-tuning is the right approach.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

WorkspaceOpt = typer.Option(None, "--workspace", "-w", envvar="SANDBOX_WORKSPACE", help="Workspace folder (default: nearest with sandbox.toml or corpora/).")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


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


def console():
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def _register_commands() -> None:
    for module in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"sandbox.commands.{module.name}")


_register_commands()


def main() -> None:
    try:
        app()
    except SandboxError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        typer.secho("Interrupted.", err=True)
        raise SystemExit(130) from None
