"""`sandbox app` (the Gradio UI) and `sandbox judgments export|summary`."""

from __future__ import annotations

import ipaddress
import os
import threading
from pathlib import Path
from typing import Optional

import typer

from sandbox.commands.shared import app, console, print_json, workspace
from sandbox.errors import ConfigError, DataError
from sandbox.finetune.queue import watch as watch_finetunes
from sandbox.judgment_stats import describe_separation, question_tags, summarize
from sandbox.localserver import local_base_url
from sandbox.server.inprocess import token_for

AUTH_ENV = "SANDBOX_APP_AUTH"
judgments_app = typer.Typer(help="Export and summarise the judgments people made in the app.", no_args_is_help=True)
app.add_typer(judgments_app, name="judgments")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None, host: str, auth_file: Path | None = None) -> list[tuple[str, str]] | None:
    """The logins (USER, PASS): --auth or $SANDBOX_APP_AUTH, plus one USER:PASS a line of --auth-file.

    Each login is a judge: their votes carry the login as the judge's name. Logins are required
    whenever the app is reachable off this machine. Passwords are never echoed in errors.
    """
    logins = []
    value = value or os.environ.get(AUTH_ENV, "")
    if value:
        logins.append(_login(value) or _bad_login("--auth", f"Pass --auth alice:s3cret or set {AUTH_ENV}=alice:s3cret."))
    if auth_file is not None:
        logins += _auth_file(auth_file)
    users = [user for user, _ in logins]
    if len(set(users)) != len(users):
        twice = sorted({u for u in users if users.count(u) > 1})
        raise ConfigError(f"Login {', '.join(twice)} is given twice.", "Give each judge one USER:PASS line.")
    if logins:
        return logins
    if not is_loopback(host):
        raise ConfigError(
            f"Refusing to serve on {host} without a password: anyone on the network could use the models and read the data.",
            f"Add --auth USER:PASS or --auth-file FILE (or set {AUTH_ENV}=USER:PASS), or keep the default --host 127.0.0.1.",
        )
    return None


def _login(text: str) -> tuple[str, str] | None:
    user, sep, password = text.strip().partition(":")
    return (user.strip(), password) if sep and user.strip() and password else None


def _bad_login(where: str, hint: str):
    raise ConfigError(f"{where} must look like USER:PASS.", hint)


def _auth_file(path: Path) -> list[tuple[str, str]]:
    """One USER:PASS a line; blank lines and lines starting with # are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(path, f"cannot read the logins file ({exc.strerror or exc}).", "Pass a readable file.") from exc
    logins = []
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            logins.append(_login(line) or _bad_file_line(path, number))
    if not logins:
        raise DataError(path, "no logins in the file.", "Write one USER:PASS a line, e.g. alice:s3cret.")
    return logins


def _bad_file_line(path: Path, number: int):
    raise DataError(path, "this line must look like USER:PASS (a user name, a colon, a password).",
                    "Fix or remove the line; blank lines and # comments are allowed.", line=number)


def preload_local_model(ws) -> threading.Thread | None:
    """Start the built-in model server and load the model in the background: the page must not wait."""
    if not any(ws.settings.endpoint_for(p).is_local for p in ws.settings.pipelines) or os.environ.get("SANDBOX_LOCAL_BASE_URL"):
        return None

    def warm() -> None:
        try:
            import httpx

            base = local_base_url(ws)
            # one token makes the server load the weights now rather than on the first question
            token = token_for(base)
            httpx.post(f"{base}/chat/completions", timeout=600, headers={"Authorization": f"Bearer {token}"} if token else {}, json={
                "model": ws.settings.endpoints["local"].model if "local" in ws.settings.endpoints else "",
                "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
        except Exception as exc:  # noqa: BLE001 - a background warm-up must never kill the app; the first question reports it
            typer.secho(f"Local model warm-up failed ({type(exc).__name__}: {exc}); it will load on first use.", err=True)

    thread = threading.Thread(target=warm, name="sandbox-preload", daemon=True)
    thread.start()
    return thread


@app.command("app")
def app_command(
    host: str = typer.Option("127.0.0.1", help="Interface to bind. Anything but loopback requires --auth."),
    port: int = typer.Option(7860, help="Port to serve on."),
    auth: Optional[str] = typer.Option(None, help=f"USER:PASS required to log in (or set {AUTH_ENV}); never stored."),
    auth_file: Optional[Path] = typer.Option(None, "--auth-file", help="A file with one USER:PASS a line, one per judge: each logs in as themselves and votes under that name."),
    preload: bool = typer.Option(True, help="Load the local model in the background at start-up."),
) -> None:
    """Open the web app: ask all three pipelines side by side, judge blind, analyse, upload data."""
    if auth:
        typer.secho(f"Warning: --auth on the command line is visible to every local user (process list); "
                    f"set {AUTH_ENV} or use --auth-file instead.", fg=typer.colors.YELLOW, err=True)
    credentials = parse_auth(auth, host, auth_file)
    ws = workspace()
    from sandbox.app import build_app
    from sandbox.app.serving import exit_on_sigterm, launch_options, private_uploads

    exit_on_sigterm()
    with private_uploads(ws):  # this instance's own upload folder, removed when the app stops
        demo = build_app(ws)
        if preload:
            preload_local_model(ws)
        watch_finetunes(ws)  # queued fine-tunes advance and register while the app runs (`sandbox finetune --all`)
        demo.queue(default_concurrency_limit=8)
        typer.echo(f"sandbox app on http://{host}:{port}" + (" (login required)" if credentials else ""))
        demo.launch(server_name=host, server_port=port, auth=credentials, share=False, ssr_mode=False,
                    show_error=False, quiet=True, mcp_server=False, inbrowser=False, **launch_options(ws, host))


@judgments_app.command("export")
def export_command(
    format: str = typer.Option("jsonl", "--format", "-f", help="csv | jsonl | parquet | finetune (chat JSONL of preferred answers) | pairs (TRL preference JSONL: prompt/chosen/rejected messages)."),
    as_prompt: str = typer.Option("fine-tuned", "--as-prompt", help="finetune/pairs: train on the prompt this pipeline serves: fine-tuned (system + question), rag (plus the contexts its run was shown) or few-shot (plus its examples)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: judgments<suffix> in the current folder)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset's judgments."),
    session: Optional[str] = typer.Option(None, "--session", help="Only this judging session's votes (latest of each)."),
    json_out: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Export judgments for analysis, or as fine-tuning / preference data."""
    from sandbox.judgment_export import FORMATS, SUFFIX, export  # sqlalchemy (the store): not for --help
    from sandbox.store import open_store

    if format not in FORMATS:
        raise ConfigError(f"Unknown format {format!r}.", f"Use one of: {', '.join(FORMATS)}.")
    ws = workspace()
    if dataset:
        ws.dataset_dir(dataset)  # a typo gets "not found, available: ..." instead of an empty file
    store = open_store(ws)
    if session:
        from sandbox.sessions import get_session

        session = get_session(store, session).id  # a typo gets "no session, use one of ..."
    result = export(store, format, out or Path(f"judgments{SUFFIX[format]}"), dataset, workspace=ws, as_prompt=as_prompt,
                    session_id=session)
    if json_out:
        print_json(result)
    else:
        skipped = f"; {result['skipped']} skipped (no {as_prompt} run with contexts)" if result.get("skipped") else ""
        typer.echo(f"Wrote {result['rows']} rows ({result['judgments']} judgments) to {result['path']}{skipped}")


@judgments_app.command("summary")
def summary_command(
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset's judgments."),
    json_out: bool = typer.Option(False, "--json", help="Print the full analysis as JSON."),
) -> None:
    """Win rates (95% Wilson), Bradley–Terry strengths, agreement, and judgments still needed."""
    from sandbox.store import open_store  # sqlalchemy: not for --help

    ws = workspace()
    if dataset:
        ws.dataset_dir(dataset)
    summary = summarize(open_store(ws).judgments(dataset), question_tags(ws, [dataset] if dataset else None))
    if json_out:
        print_json(summary)
        return
    print_summary(summary)


def print_summary(summary: dict) -> None:
    from rich.table import Table

    out = console()
    if not summary["judgments"]:
        out.print("No judgments yet. Judge some answers in `sandbox app` (Compare tab).")
        return
    table = Table(title=f"{summary['judgments']} judgments by {len(summary['judges'])} judge(s)")
    for col in ("pipeline", "wins", "shown", "win rate", "95% CI", "Bradley–Terry"):
        table.add_column(col)
    for row in summary["win_rates"]:
        table.add_row(row["pipeline"], str(row["wins"]), str(row["judgments"]), f"{row['win_rate']:.0%}",
                      f"{row['ci_low']:.0%}–{row['ci_high']:.0%}", f"{summary['bradley_terry'].get(row['pipeline'], 0):.3f}")
    out.print(table)
    agreement = summary["agreement"]
    if agreement["pairs"]:
        kappa = "n/a" if agreement["kappa"] is None else f"{agreement['kappa']:.2f}"
        out.print(f"Judges agreed on {agreement['agreement']:.0%} of {agreement['pairs']} pairs "
                  f"over {agreement['questions']} question(s) (kappa {kappa}).")
    out.print(describe_separation(summary["separation"]))
