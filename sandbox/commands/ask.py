"""`sandbox ask`: one question through the pipelines side by side."""

from __future__ import annotations

import asyncio
from typing import Optional

import typer

from sandbox import PIPELINES
from sandbox.commands.shared import JsonOpt, app, console, print_json, workspace
from sandbox.records import SHOWN_LOAD_S


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question (quote it)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset under corpora/ (default: the first)."),
    pipelines: str = typer.Option(",".join(PIPELINES), "--pipelines", "-p", help="Comma-separated pipelines to run, in display order."),
    json_out: bool = JsonOpt,
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the runs in .sandbox/sandbox.db."),
) -> None:
    """Answer QUESTION with few-shot, RAG and fine-tuned pipelines at once and show them side by side.

    Each result has its model, latency, tokens, cost and (RAG) sources. A pipeline that fails
    (no index, no fine-tuned model yet, endpoint down) shows its error; the others still answer,
    and the exit code stays 0. Runs are stored for judging and analysis unless --no-store.
    """
    from sandbox.compare import Done, check_pipelines, stream_compare  # numpy, langchain-core: not for --help
    from sandbox.store import open_store  # sqlalchemy: not for --help

    ws = workspace()
    names = check_pipelines(pipelines.split(","))
    store = None if no_store else open_store(ws)

    async def run() -> dict[str, object]:
        records = {}
        stream = stream_compare(ws, question, dataset=dataset, pipelines=names, store=store)
        if json_out:
            async for item in stream:
                if isinstance(item, Done):
                    records[item.record.pipeline] = item.record
            return records
        with console().status(f"Asking {', '.join(names)}…") as status:
            async for item in stream:
                if isinstance(item, Done):
                    records[item.record.pipeline] = item.record
                    waiting = [n for n in names if n not in records]
                    status.update(f"{item.record.pipeline} done; waiting for {', '.join(waiting)}…")
        return records

    records = asyncio.run(run())
    ordered = [records[name] for name in names]
    if json_out:
        print_json({"question": question, "results": [r.to_result() for r in ordered]})
    else:
        console().print(_table(question, ordered))


def _table(question: str, records: list):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(question), show_lines=True, expand=True)
    table.add_column("", style="bold", no_wrap=True)
    for record in records:
        table.add_column(record.pipeline, ratio=1, overflow="fold")

    def row(label: str, cells: list) -> None:
        table.add_row(label, *cells)

    # Model output and document text are shown as plain Text, never parsed as markup.
    row("answer", [Text(r.response) if r.ok else Text(r.error or "", style="red") for r in records])
    row("model", [Text(r.model or "-") for r in records])
    row("latency", [f"{r.latency_s:.2f} s" for r in records])
    if any(r.load_s >= SHOWN_LOAD_S for r in records):
        row("loading", [f"{r.load_s:.2f} s (once)" for r in records])
    row("tokens", [f"{'~' if r.usage_estimated else ''}{r.prompt_tokens} in / {r.completion_tokens} out" for r in records])
    row("cost", [f"${r.cost_usd:.6f}" for r in records])
    if any(r.contexts for r in records):
        row("sources", [Text("\n".join(f"[{i}] {c.source} ({c.score:.2f})" for i, c in enumerate(r.contexts, 1)) or "-")
                        for r in records])
    return table
