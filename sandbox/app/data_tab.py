"""Data tab: new datasets, document uploads (then indexing), examples and questions files.

Layout and event wiring only: validating, merging and writing are ``sandbox.datasets``.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox import datasets
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError


def _dataset_dir(ctx: AppContext, dataset: str | None):
    if not dataset:
        raise SandboxError("No dataset selected.", "Pick one at the top or create a new one here.")
    return ctx.workspace.dataset_dir(dataset)


def index_dataset(ctx: AppContext, dataset: str, progress: Callable[[int, int], None] | None = None) -> str:
    report = ctx.build_index(ctx.workspace, dataset, progress=progress)
    data = report.model_dump() if hasattr(report, "model_dump") else dict(report)
    lines = [f"Indexed {data.get('documents', 0)} document(s): {data.get('chunks_added', 0)} chunk(s) added, "
             f"{data.get('chunks_removed', 0)} removed, {data.get('chunks_total', 0)} in total."]
    lines += [f"Skipped {s['source']}: {s['reason']}" for s in data.get("skipped", [])]
    return "\n".join(lines)


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
                slug = datasets.create_dataset(ctx.workspace.corpora_dir, name)
            except SandboxError as exc:
                return gr.update(), str(exc)
            return gr.update(choices=ctx.datasets(), value=slug), f"Created dataset {slug!r}. Now upload its files."

        def on_upload(dataset, doc_paths, examples_path, questions_path, append_, progress=gr.Progress()):
            messages = []
            listed = ctx.workspace.settings.limits.problems_listed
            try:
                if examples_path:
                    got = datasets.import_examples(_dataset_dir(ctx, dataset), examples_path, append_, listed)
                    messages.append(f"Saved {got.count} example(s) from {got.source}"
                                    + (f" after the {got.kept} already stored." if got.kept else "."))
                if questions_path:
                    got = datasets.import_questions(_dataset_dir(ctx, dataset), questions_path, append_, listed)
                    messages.append(f"Saved {got.count} question(s) from {got.source}.")
                if doc_paths:
                    names = datasets.add_documents(_dataset_dir(ctx, dataset), doc_paths)
                    messages.append(f"Saved {len(names)} document(s): {', '.join(names)}")
                    progress(0, desc="Indexing")
                    messages.append(index_dataset(
                        ctx, dataset, lambda done, total: progress((done, total), desc="Embedding chunks", unit="chunks")))
            except SandboxError as exc:
                messages.append(f"Error: {exc}")
            return "\n".join(messages) or "Nothing to upload: choose files first."

        create_btn.click(on_create, new_name, [ctx.dataset, log], api_visibility="private")
        upload_btn.click(on_upload, [ctx.dataset, docs, examples, questions, append], log, api_visibility="private")
