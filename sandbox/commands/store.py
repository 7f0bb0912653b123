"""`sandbox store copy`: move a workspace's store (e.g. a laptop's SQLite) into another (the team's PostgreSQL)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from sandbox.commands.shared import JsonOpt, app, console, print_json, workspace
from sandbox.errors import StoreError

store_app = typer.Typer(help="The store of runs, judgments and evals (url in the store section of sandbox.toml).", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("copy")
def copy_command(
    to: str = typer.Option(..., "--to", help="Target store URL, e.g. postgresql://USER@HOST:5432/DB (no password in it)."),
    password_env: Optional[str] = typer.Option(None, "--password-env", help="Env var holding the PostgreSQL password (default: password_env of the store section in sandbox.toml)."),
    source: Optional[str] = typer.Option(None, "--from", help="Source store URL (default: this workspace's store)."),
    json_: bool = JsonOpt,
) -> None:
    """Copy every run, judgment and eval into another store, then verify it row by row.

    Idempotent and resumable: rows are upserted by id a page at a time, so running it again after an
    interruption finishes the job and running it twice changes nothing. The target is migrated to this
    version's schema first. Relative SQLite paths are under the workspace. Afterwards point the team at it:
    url = "<the --to URL>" in the store section of sandbox.toml.
    """
    from sandbox.store import open_store, open_url, password_from
    from sandbox.store.copy import copy_store

    ws = workspace()
    password = password_from(password_env if password_env is not None else ws.settings.store.password_env)
    src = open_url(source, ws.root, password) if source else open_store(ws)
    dst = open_url(to, ws.root, password)
    if not json_:
        console().print(f"Copying {src.url} -> {dst.url}", markup=False)
    report = copy_store(src, dst, progress=None if json_ else _progress_bar())
    if json_:
        print_json(report.summary())
    else:
        _print_report(report)
    if not report.verified:
        raise StoreError("The copy does not match its source (see the table above).",
                         "Run the same command again: it resumes, and stops only when every row matches.")


def _progress_bar():
    from tqdm import tqdm

    state: dict = {}

    def update(done: int, total: int) -> None:
        bar = state.get("bar") or state.setdefault("bar", tqdm(total=total, desc="Copying", unit="row", file=sys.stderr))
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _print_report(report) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table("table", "source rows", "verified in target", "target rows")
    for t in report.tables:
        table.add_row(t.table, str(t.source_rows), str(t.verified_rows), str(t.target_rows))
    out = console()
    out.print(table)
    same = "matches" if report.flat_checksum_source == report.flat_checksum_target else "DIFFERS"
    out.print(f"judgments_flat: {report.flat_rows} rows, checksum {report.flat_checksum_source[:12]} {same} in the target")
    if report.verified:
        out.print(f"[green]Verified.[/] To use it: {escape('[store]')} url = \"{escape(report.target)}\" in sandbox.toml.")
