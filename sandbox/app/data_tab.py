"""Data tab: new datasets, document uploads (then indexing), examples and questions files.

Uploads are validated before anything is written, every problem is listed with file and line,
and files are written atomically, so a bad upload never costs what was already stored.
File and dataset names are sanitised: no path traversal, no hidden files, unicode normalised.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from sandbox.app.context import AppContext
from sandbox.errors import DataError, SandboxError
from sandbox.files import atomic_copy, atomic_write_text

MAX_NAME = 120
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_filename(name: str) -> str:
    """A plain file name from whatever a browser sent: last path part only, NFC, no leading dots."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")  # control / format chars
    base = _UNSAFE.sub("_", base).strip(" .")  # leading dots would make hidden files; trailing ones trip Windows
    stem, dot, ext = base.rpartition(".")
    if len(base) > MAX_NAME:
        base = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 else base[:MAX_NAME]
    if not base or base in {".", ".."}:
        raise DataError(name or "(unnamed)", "this file name has no usable characters.", "Rename the file, e.g. notes.md.")
    return base


def safe_dataset_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", unicodedata.normalize("NFKC", name or "").strip().lower()).strip("-_")
    if not slug:
        raise SandboxError(f"{name!r} is not a usable dataset name.", "Use letters, digits, '-' or '_', e.g. support-faq.")
    return slug[:64]


def create_dataset(ctx: AppContext, name: str) -> str:
    slug = safe_dataset_name(name)
    folder = ctx.workspace.corpora_dir / slug
    if folder.exists():
        raise SandboxError(f"Dataset {slug!r} already exists.", "Pick it from the Dataset list, or choose another name.")
    (folder / "docs").mkdir(parents=True)
    return slug


def _dataset_dir(ctx: AppContext, dataset: str | None) -> Path:
    if not dataset:
        raise SandboxError("No dataset selected.", "Pick one at the top or create a new one here.")
    return ctx.workspace.dataset_dir(dataset)


def save_documents(ctx: AppContext, dataset: str | None, paths: Sequence[str]) -> list[str]:
    """Copy uploads into the dataset's docs/ under sanitised names; returns the names written."""
    docs = _dataset_dir(ctx, dataset) / "docs"
    names = [safe_filename(Path(p).name) for p in paths]  # all names checked before any file is written
    for path, name in zip(paths, names):
        atomic_copy(path, docs / name)
    return names


def index_dataset(ctx: AppContext, dataset: str, progress: Callable[[int, int], None] | None = None) -> str:
    report = ctx.build_index(ctx.workspace, dataset, progress=progress)
    data = report.model_dump() if hasattr(report, "model_dump") else dict(report)
    lines = [f"Indexed {data.get('documents', 0)} document(s): {data.get('chunks_added', 0)} chunk(s) added, "
             f"{data.get('chunks_removed', 0)} removed, {data.get('chunks_total', 0)} in total."]
    lines += [f"Skipped {s['source']}: {s['reason']}" for s in data.get("skipped", [])]
    return "\n".join(lines)


def _problems_text(filename: str, problems) -> str:
    return "\n".join(f"{filename}:{p.line if p.line is not None else '-'}: [{p.code}] {p.message}" for p in problems)


def save_examples(ctx: AppContext, dataset: str | None, upload: str, append: bool = True) -> str:
    """Validate an examples file (chat JSONL, input/output JSONL or CSV), then merge or replace.

    Stored as chat JSONL ``{"messages": [...]}`` in examples.jsonl. Raises DataError listing every problem.
    """
    from sandbox.examples import dataset_examples, parse_examples

    folder = _dataset_dir(ctx, dataset)
    shown = safe_filename(Path(upload).name)
    new, problems = parse_examples(upload)
    if problems:
        raise DataError(shown, f"{len(problems)} problem(s); nothing was saved.\n" + _problems_text(shown, problems),
                        "Fix those lines and upload again.")
    existing = []
    if append and (current := dataset_examples(folder)) is not None:
        existing, old_problems = parse_examples(current)
        if old_problems:
            raise DataError(current.name, "the stored examples file has problems; not merging into it.\n"
                            + _problems_text(current.name, old_problems), "Fix it, or untick 'Append' to replace it.")
    text = "".join(json.dumps({"messages": e.messages}, ensure_ascii=False) + "\n" for e in [*existing, *new])
    atomic_write_text(folder / "examples.jsonl", text)
    return f"Saved {len(new)} example(s) from {shown}" + (f" after the {len(existing)} already stored." if existing else ".")


def save_questions(ctx: AppContext, dataset: str | None, upload: str, append: bool = True) -> str:
    """Validate a questions file, refuse ids that already exist when appending, then write atomically."""
    from sandbox.examples import Problem, load_questions, validate_questions

    folder = _dataset_dir(ctx, dataset)
    shown = safe_filename(Path(upload).name)
    problems = validate_questions(upload)
    target = folder / "questions.jsonl"
    existing_text = target.read_text(encoding="utf-8") if append and target.is_file() else ""
    questions = [] if problems else load_questions(upload)
    if questions and existing_text:
        have = {q.id for q in load_questions(target)}
        problems = [Problem(line=q.line, code="duplicate", message=f"id {q.id!r} is already in questions.jsonl.")
                    for q in questions if q.id in have]
    if problems:
        raise DataError(shown, f"{len(problems)} problem(s); nothing was saved.\n" + _problems_text(shown, problems),
                        "Fix those lines and upload again.")
    rows = "".join(json.dumps(q.model_dump(exclude={"line"}, exclude_none=True), ensure_ascii=False) + "\n" for q in questions)
    if existing_text and not existing_text.endswith("\n"):
        existing_text += "\n"
    atomic_write_text(target, existing_text + rows)
    return f"Saved {len(questions)} question(s) from {shown}."


def build(ctx: AppContext) -> None:
    import gradio as gr

    with gr.Tab("Data", id="data"):
        gr.Markdown("Upload into the dataset selected at the top, or create a new one first. "
                    "Files are checked before anything is written.")
        with gr.Row():
            new_name = gr.Textbox(label="New dataset name", placeholder="e.g. support-faq", elem_id="new-dataset")
            create_btn = gr.Button("Create dataset", elem_id="create-dataset")
        docs = gr.File(label="Documents (md, txt, html, pdf, docx)", file_count="multiple", type="filepath",
                       elem_id="upload-docs")
        with gr.Row():
            examples = gr.File(label="Examples (examples.jsonl / .csv)", type="filepath", elem_id="upload-examples")
            questions = gr.File(label="Questions (questions.jsonl)", type="filepath", elem_id="upload-questions")
        append = gr.Checkbox(value=True, label="Append to what is stored (untick to replace)")
        upload_btn = gr.Button("Save uploads and index", variant="primary", elem_id="save-uploads")
        log = gr.Textbox(label="Result", lines=8, interactive=False, elem_id="data-log")

        def on_create(name: str):
            try:
                slug = create_dataset(ctx, name)
            except SandboxError as exc:
                return gr.update(), str(exc)
            return gr.update(choices=ctx.datasets(), value=slug), f"Created dataset {slug!r}. Now upload its files."

        def on_upload(dataset, doc_paths, examples_path, questions_path, append_, progress=gr.Progress()):
            messages = []
            try:
                if examples_path:
                    messages.append(save_examples(ctx, dataset, examples_path, append_))
                if questions_path:
                    messages.append(save_questions(ctx, dataset, questions_path, append_))
                if doc_paths:
                    names = save_documents(ctx, dataset, doc_paths)
                    messages.append(f"Saved {len(names)} document(s): {', '.join(names)}")
                    progress(0, desc="Indexing")
                    messages.append(index_dataset(
                        ctx, dataset, lambda done, total: progress((done, total), desc="Embedding chunks", unit="chunks")))
            except SandboxError as exc:
                messages.append(f"Error: {exc}")
            return "\n".join(messages) or "Nothing to upload: choose files first."

        create_btn.click(on_create, new_name, [ctx.dataset, log], api_visibility="private")
        upload_btn.click(on_upload, [ctx.dataset, docs, examples, questions, append], log, api_visibility="private")
