"""`sandbox session create|list|show|close`: judging sessions that many people judge (see sandbox/sessions.py)."""

from __future__ import annotations

from typing import Optional

import typer

from sandbox.commands.shared import JsonOpt, app, console, print_json, workspace
from sandbox.errors import ConfigError

session_app = typer.Typer(help="Judging sessions: the same frozen answers judged blind by a group.", no_args_is_help=True)
app.add_typer(session_app, name="session")

LinkOpt = typer.Option("http://127.0.0.1:7860", "--app-url", help="Where judges reach `sandbox app`, for the printed link.")


def _store():
    from sandbox.store import open_store  # sqlalchemy; sandbox.sessions pulls numpy (via evaluate): not for --help

    ws = workspace()
    return ws, open_store(ws)


def link(app_url: str, session_id: str) -> str:
    return f"{app_url.rstrip('/')}/?session={session_id}"


@session_app.command("create")
def create_command(
    dataset: str = typer.Argument(..., help="Dataset under corpora/ whose questions.jsonl to judge."),
    questions: Optional[int] = typer.Option(None, "--questions", "-n", min=1, help="The first N questions."),
    ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated question ids (instead of --questions)."),
    from_eval: bool = typer.Option(False, "--from-eval", help="Only answers stored by `sandbox eval` with the current settings; never generate."),
    name: str = typer.Option("", "--name", help="A name judges recognise (default: dataset and time)."),
    app_url: str = LinkOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Freeze a set of comparisons: answers come from the eval of the current settings when it has
    them, the rest are generated now (once). Then send judges the printed link."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sandbox.sessions import create_session, describe

    if questions and ids:
        raise ConfigError("--questions and --ids both choose questions.", "Pass one of them.")
    ws, store = _store()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(), transient=True, disable=as_json) as bar:
        task = bar.add_task("answering", total=None)
        session = create_session(ws, dataset, name=name, count=questions, from_eval=from_eval, store=store,
                                 ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        print_json({**describe(session), "link": link(app_url, session.id)})
        return
    out = console()
    out.print(f"Session {session.id} ({session.name}): {len(session.items)} comparisons of {session.dataset}, "
              f"answers {session.answers_from['eval']} from the eval, {session.answers_from['generated']} generated.",
              markup=False)
    out.print(f"Judges open: {link(app_url, session.id)}", markup=False)


@session_app.command("list")
def list_command(dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset's sessions."),
                 as_json: bool = JsonOpt) -> None:
    """Sessions, newest first, with how many votes each has."""
    from rich.table import Table
    from rich.text import Text

    from sandbox.sessions import describe

    _, store = _store()
    rows = [{**describe(s), "votes": len(store.judgments(session_id=s.id))} for s in store.sessions(dataset)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No sessions yet. Create one: sandbox session create DATASET --questions 20", markup=False)
        return
    table = Table()
    for col in ("id", "name", "dataset", "status", "comparisons", "votes", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(Text(str(r[k])) for k in ("id", "name", "dataset", "status", "comparisons", "votes")),
                      r["created_at"][:16])
    console().print(table)


@session_app.command("show")
def show_command(session_id: str = typer.Argument(..., help="Session id (see `sandbox session list`)."),
                 app_url: str = LinkOpt, as_json: bool = JsonOpt) -> None:
    """A session's results on identical answers: win rates, Bradley–Terry, agreement, Fleiss' kappa,
    position bias per judge, and what is still missing."""
    from sandbox.commands.app import print_summary
    from sandbox.sessions import describe, get_session, results

    _, store = _store()
    session = get_session(store, session_id)
    analysis = results(store, session)
    if as_json:
        print_json({"session": {**describe(session), "link": link(app_url, session.id)}, "results": analysis})
        return
    out = console()
    out.print(f"Session {session.id} ({session.name}, {session.status}): {len(session.items)} comparisons of "
              f"{session.dataset}. Link: {link(app_url, session.id)}", markup=False)
    print_summary(analysis)
    for line in bias_lines(analysis) + coverage_lines(analysis):
        out.print(line, markup=False)


def bias_lines(analysis: dict) -> list[str]:
    return [f"{judge}: picked the left column in {b['left']} of {b['picks']} ({b['share']:.0%}; a shuffle predicts "
            f"{b['expected']:.0%})" + (" -> position bias" if b["biased"] else "")
            for judge, b in analysis["position_bias"].items()]


def coverage_lines(analysis: dict) -> list[str]:
    s = analysis["session"]
    lines = [f"{s['unjudged']} of {s['comparisons']} comparisons unjudged, {s['single_judge']} judged by one judge only."]
    lines += [f"{judge}: {left} still to judge" for judge, left in s["remaining_by_judge"].items() if left]
    return lines


@session_app.command("close")
def close_command(session_id: str = typer.Argument(..., help="Session id."), as_json: bool = JsonOpt) -> None:
    """Close a session: its votes become final (results stay readable)."""
    from sandbox.sessions import close_session, describe

    _, store = _store()
    session = close_session(store, session_id)
    if as_json:
        print_json(describe(session))
    else:
        console().print(f"Session {session.id} ({session.name}) is closed.", markup=False)
