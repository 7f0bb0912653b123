"""`sandbox index`, `sandbox search`, `sandbox init`: documents in, retrieval out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from sandbox.commands.shared import JsonOpt, app, console, print_json, workspace
from sandbox.errors import DataError, SandboxError
from sandbox.init import create_workspace


@app.command("index")
def index_command(
    dataset: Optional[str] = typer.Argument(None, help="Dataset under corpora/ (default: the first one with docs/)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the index and embed everything again (e.g. after changing the embedding model)."),
    all_: bool = typer.Option(False, "--all", help="Index every dataset that has a docs/ folder."),
    json_: bool = JsonOpt,
) -> None:
    """Index corpora/DATASET/docs into Chroma for RAG (incremental: only new or changed documents are embedded).

    Reads Markdown, text, HTML, PDF and DOCX; unreadable, empty or oversized files are skipped
    and listed. Safe to interrupt: the next run finishes the job without duplicates.
    """
    from sandbox.index import build_index  # chromadb, numpy: not for --help

    ws = workspace()
    if all_:
        names = [n for n in ws.datasets() if (ws.corpora_dir / n / "docs").is_dir()]
        if not names:
            raise SandboxError(f"No dataset in {ws.corpora_dir} has a docs/ folder.", "Create one with `sandbox init DIR --docs PATH`.")
    else:
        names = [_dataset(ws, dataset)]
    for name in names:
        report = build_index(ws, name, rebuild=rebuild, progress=_progress_bar(name))
        if json_:
            print_json(report.model_dump())
        else:
            _print_report(report)


def _dataset(ws, name: Optional[str]) -> str:
    """The named dataset, else the first one that has documents to search."""
    if name is not None:
        return ws.dataset_dir(name).name
    with_docs = [n for n in ws.datasets() if (ws.corpora_dir / n / "docs").is_dir()]
    return with_docs[0] if with_docs else ws.dataset_dir(None).name


def _progress_bar(name: str):
    """A tqdm bar on stderr with chunks/s, so stdout stays clean for --json."""
    from tqdm import tqdm

    state: dict = {}

    def update(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            if total == 0:
                return
            bar = state["bar"] = tqdm(total=total, desc=f"Embedding {name}", unit="chunk", file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _print_report(report) -> None:
    from rich.markup import escape

    out = console()
    documents = f"{report.documents} document{'' if report.documents == 1 else 's'}"
    out.print(
        f"[bold]{escape(report.dataset)}[/]: {documents}, {report.chunks_added} chunks added, "
        f"{report.chunks_removed} removed, {report.chunks_total} in the index ({report.seconds:.1f} s)"
    )
    if report.skipped:
        out.print(f"[yellow]Skipped {len(report.skipped)} file(s):[/]")
        for item in report.skipped:
            out.print(f"  - {escape(item.reason)}")


@app.command("search")
def search_command(
    query: Optional[str] = typer.Argument(None, help="What to search for."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset under corpora/ (default: the first one with docs/)."),
    k: int = typer.Option(5, "-k", "--k", min=1, help="Number of results."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="JSONL file with a `question` per line: answer all in one process, one JSON line each, in order."),
    json_: bool = JsonOpt,
) -> None:
    """Retrieval only: the chunks the RAG pipeline would put in its prompt (hybrid vector + BM25, or your
    own LangChain retriever when [pipelines.rag] retriever is set)."""
    if (query is None) == (queries is None):
        raise SandboxError("Give either a QUERY or --queries FILE.", 'e.g. sandbox search "refund policy" -d knowledge -k 5')
    texts = _read_queries(queries) if queries is not None else [query]
    from sandbox.pipelines import Resources  # numpy, chromadb: not for --help

    ws = workspace()
    retriever = Resources(ws).retriever(_dataset(ws, dataset))
    for text, hits in zip(texts, retriever.search_many(texts, k)):
        if json_:
            print_json({"query": text, "hits": [hit.contract() for hit in hits]})
        else:
            _print_hits(text, hits)


def _read_queries(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(path, "file not found.", "Pass a JSONL file with one {\"question\": ...} object per line.")
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON ({exc.msg}).", 'Each line must be a JSON object like {"question": "..."}.', line=number) from None
        question = record.get("question") if isinstance(record, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise DataError(path, 'no "question" text on this line.', 'Each line needs a "question" field with the query text.', line=number)
        texts.append(question)
    return texts


def _print_hits(query: str, hits) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"“{query}”"), show_lines=True, expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("score", justify="right", width=8)
    table.add_column("source", ratio=1)
    table.add_column("text", ratio=3)
    for rank, hit in enumerate(hits, start=1):
        where = Text(hit.source)  # Text(): document content is shown verbatim, never as markup
        if hit.heading:
            where.append(f"\n{hit.heading}", style="dim")
        snippet = hit.text if len(hit.text) <= 400 else hit.text[:400] + "…"
        table.add_row(str(rank), f"{hit.score:.4f}", where, Text(snippet))
    if not hits:
        table.add_row("", "", Text("no matches"), Text(""))
    console().print(table)


@app.command("init")
def init_command(
    directory: Path = typer.Argument(..., help="Folder for the new workspace (created if missing)."),
    docs: Optional[Path] = typer.Option(None, "--docs", help="Folder (or single file) of your documents for RAG."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="Input→output pairs: chat JSONL, {input, output} JSONL, or CSV."),
    questions: Optional[Path] = typer.Option(None, "--questions", help="Held-out questions JSONL for evaluation."),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset name (default: the workspace folder's name)."),
    link: bool = typer.Option(False, "--link", help="Symlink the documents instead of copying them."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing workspace's sandbox.toml and dataset."),
    json_: bool = JsonOpt,
) -> None:
    """Create a workspace for your own data: sandbox.toml (every setting, commented), prompts/, corpora/NAME/."""
    from rich.markup import escape

    report = create_workspace(directory, docs, examples, questions, name, link, force)
    if json_:
        print_json(report.model_dump())
        return
    out = console()
    how = "linked" if report.linked else "copied"
    out.print(f"Created workspace [bold]{escape(report.workspace)}[/] with dataset [bold]{escape(report.dataset)}[/] ({report.documents} documents {how}).")
    out.print("Next steps:")
    for step in report.next_steps:
        out.print(f"  {escape(step)}")
