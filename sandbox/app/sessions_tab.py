"""Sessions tab: create a judging session (the same as `sandbox session create`), share its link,
follow its results, close it, export its votes. Names are user text: shown in Textboxes / Dataframes."""


import tempfile
from pathlib import Path
from typing import Any

from sandbox.app.context import AppContext
from sandbox.app.judgments_tab import win_table
from sandbox.app.session_view import results_text
from sandbox.errors import SandboxError
from sandbox.judgment_export import SUFFIX, export
from sandbox.sessions import close_session, create_session, get_session, results

HEADERS = ["id", "name", "dataset", "status", "comparisons", "votes", "created"]


def session_rows(ctx: AppContext) -> list[list[str]]:
    return [[s.id, s.name, s.dataset, s.status, str(len(s.items)), str(len(ctx.store.judgments(session_id=s.id))),
             f"{s.created_at:%Y-%m-%d %H:%M}"] for s in ctx.store.sessions()]


def session_choices(ctx: AppContext) -> list[tuple[str, str]]:
    return [(f"{s.name} ({s.id}, {s.status})", s.id) for s in ctx.store.sessions()]


def parse_ids(text: str | None) -> list[str] | None:
    ids = [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]
    return ids or None


def share_link(session_id: str, host: str | None) -> str:
    return f"http://{host}/?session={session_id}" if host else f"/?session={session_id}"


def export_votes(ctx: AppContext, session_id: str, fmt: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix="sandbox-export-"))
    return export(ctx.store, fmt, folder / f"session-{session_id}{SUFFIX[fmt]}", session_id=session_id)["path"]


def build(ctx: AppContext) -> None:
    import gradio as gr

    with gr.Tab("Sessions", id="sessions") as tab:
        gr.Markdown("A session freezes one set of answers that a group judges blind, each judge in their own order. "
                    "Create it here (or `sandbox session create`), then send the link.")
        with gr.Row():
            name = gr.Textbox(label="Session name", placeholder="e.g. support team, week 12", elem_id="session-name")
            count = gr.Number(label="Questions (first N)", value=20, precision=0, minimum=1, elem_id="session-count")
            ids = gr.Textbox(label="…or question ids (comma-separated)", elem_id="session-ids")
            from_eval = gr.Checkbox(label="Only answers stored by the eval", value=False, elem_id="session-from-eval")
            create = gr.Button("Create session", variant="primary", elem_id="session-create")
        table = gr.Dataframe(headers=HEADERS, value=session_rows(ctx), label="Sessions", interactive=False,
                             elem_id="session-table")
        with gr.Row():
            picked = gr.Dropdown(choices=session_choices(ctx), value=None, label="Session", elem_id="session-picked", scale=3)
            close = gr.Button("Close session (votes become final)", elem_id="session-close")
        link = gr.Textbox(label="Link for judges", interactive=False, buttons=["copy"], elem_id="session-link")
        summary = gr.Textbox(label="Results on identical answers", lines=6, interactive=False, elem_id="session-results")
        wins = gr.Dataframe(headers=["pipeline", "wins", "shown", "win rate", "95% CI", "Bradley–Terry"],
                            interactive=False, elem_id="session-wins")
        with gr.Row():
            fmt = gr.Radio(choices=["csv", "jsonl", "parquet"], value="csv", label="Export this session's votes")
            export_btn = gr.Button("Export", elem_id="session-export")
        download = gr.File(label="Download", interactive=False)

        def show(session_id: str | None, request: gr.Request) -> dict[Any, Any]:
            if not session_id:
                return {link: "", summary: "", wins: []}
            try:
                session = get_session(ctx.store, session_id)
            except SandboxError as exc:
                return {link: "", summary: str(exc), wins: []}
            analysis = results(ctx.store, session)
            host = request.headers.get("host") if request is not None else None
            return {link: share_link(session.id, host), summary: results_text(analysis), wins: win_table(analysis)}

        def refresh(session_id: str | None, request: gr.Request) -> dict[Any, Any]:
            return {table: session_rows(ctx), picked: gr.update(choices=session_choices(ctx), value=session_id),
                    **show(session_id, request)}

        def on_create(dataset, name_, count_, ids_, from_eval_, request: gr.Request, progress=gr.Progress()):
            try:
                session = create_session(
                    ctx.workspace, dataset, name=name_, count=int(count_) if count_ and not parse_ids(ids_) else None,
                    ids=parse_ids(ids_), from_eval=from_eval_, store=ctx.store, stream_compare=ctx.stream_compare,
                    progress=lambda done, total: progress((done, total), desc="answering", unit="questions"))
            except SandboxError as exc:
                gr.Warning(exc.message)
                return {summary: f"Could not create the session: {exc}"}
            return refresh(session.id, request)

        def on_close(session_id: str | None, request: gr.Request) -> dict[Any, Any]:
            if session_id:
                try:
                    close_session(ctx.store, session_id)
                except SandboxError as exc:
                    gr.Warning(exc.message)
            return refresh(session_id, request)

        def on_export(session_id: str | None, fmt_: str):
            if not session_id:
                gr.Warning("Pick a session first.")
                return None
            return export_votes(ctx, session_id, fmt_)

        shown = [table, picked, link, summary, wins]
        create.click(on_create, [ctx.dataset, name, count, ids, from_eval], shown, api_visibility="private")
        tab.select(refresh, picked, shown, api_visibility="private")
        picked.input(show, picked, [link, summary, wins], api_visibility="private")
        close.click(on_close, picked, shown, api_visibility="private")
        export_btn.click(on_export, [picked, fmt], download, api_visibility="private")
