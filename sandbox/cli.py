"""The `sandbox` command line: a thin face over the library (the UI is the other one).

Heavy libraries (torch, chromadb, gradio) are imported inside commands so that
``sandbox --help`` stays instant. Domain errors become one message that says how to fix.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from sandbox import commands
from sandbox.commands.shared import app
from sandbox.errors import SandboxError


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
