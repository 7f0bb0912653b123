"""Runs out of the store as ragas evaluation data: ``sandbox runs export``.

Each row carries ragas' ``SingleTurnSample`` fields (``user_input``, ``retrieved_contexts``,
``retrieved_context_ids``, ``response``, ``reference``, ``reference_contexts``,
``reference_context_ids``), so ``ragas.EvaluationDataset.from_list`` reads the JSONL as is, plus what
the store knows about the run (id, pipeline, model, latency, tokens, cost, the eval that scored it).

The reference contexts are the chunks of the question's ``source`` document (``questions.jsonl``) as
the dataset's index holds them, so ragas' context metrics (``NonLLMContextRecall``, id-based
precision/recall) have something to compare against. Failed runs (an error or an empty answer) are
left out unless asked for.
"""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.config import Workspace
from sandbox.errors import IndexStateError, SandboxError
from sandbox.files import atomic_path
from sandbox.judgment_export import neutralise_cell
from sandbox.questions import Question, load_questions
from sandbox.records import RunRecord
from sandbox.store import Store
from sandbox.table_schema import Kind, write_table
from sandbox.vectorstore import source_chunks

FORMATS = ("jsonl", "parquet", "csv")
RAGAS_FIELDS = ("user_input", "retrieved_contexts", "retrieved_context_ids", "response", "reference",
                "reference_contexts", "reference_context_ids")
COLUMNS: list[tuple[str, Kind]] = [
    ("user_input", "string"), ("retrieved_contexts", "strings"), ("retrieved_context_ids", "strings"),
    ("response", "string"), ("reference", "string"), ("reference_contexts", "strings"),
    ("reference_context_ids", "strings"), ("run_id", "string"), ("comparison_id", "string"), ("origin", "string"),
    ("dataset", "string"), ("question_id", "string"), ("pipeline", "string"), ("model", "string"),
    ("eval_id", "string"), ("error", "string"), ("latency_s", "float"), ("load_s", "float"), ("prompt_tokens", "int"),
    ("completion_tokens", "int"), ("cost_usd", "float"), ("usage_estimated", "bool"), ("started_at", "timestamp")]


def answered(run: RunRecord) -> bool:
    return run.ok and bool(run.response.strip())


def select_runs(store: Store, dataset: str | None, pipeline: str | None, eval_id: str | None,
                include_errors: bool) -> tuple[list[RunRecord], dict[str, str]]:
    """The runs to export (oldest first) and run id -> eval id."""
    evals = store.eval_of_runs(eval_id)
    filters = {k: v for k, v in (("dataset", dataset), ("pipeline", pipeline)) if v}
    runs = [r for r in store.runs(**filters) if (not eval_id or r.id in evals) and (include_errors or answered(r))]
    return runs, evals


def _questions(workspace: Workspace, dataset: str) -> dict[str, Question]:
    path = workspace.dataset_dir(dataset) / "questions.jsonl"
    return {q.id: q for q in load_questions(path)} if path.is_file() else {}


class References:
    """Per dataset: its questions and the index chunks of the documents they name as ``source``."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._by_dataset: dict[str, tuple[dict[str, Question], dict[str, list[tuple[str, str]]]]] = {}
        self.unindexed: set[str] = set()

    def of(self, run: RunRecord) -> tuple[Question | None, list[tuple[str, str]]]:
        if not run.dataset:
            return None, []
        if run.dataset not in self._by_dataset:
            questions = _questions(self.workspace, run.dataset)
            try:
                chunks = source_chunks(self.workspace, run.dataset, {q.source for q in questions.values() if q.source})
            except IndexStateError:
                chunks = {}
                self.unindexed.add(run.dataset)
            self._by_dataset[run.dataset] = (questions, chunks)
        questions, chunks = self._by_dataset[run.dataset]
        question = questions.get(run.question_id)
        return question, chunks.get(question.source, []) if question and question.source else []


def run_row(run: RunRecord, question: Question | None, chunks: list[tuple[str, str]], eval_id: str | None) -> dict:
    reference = run.reference if run.reference is not None else (question.reference if question else None)
    return {
        "user_input": run.user_input, "retrieved_contexts": run.retrieved_contexts,
        "retrieved_context_ids": [c.chunk_id for c in run.contexts], "response": run.response,
        "reference": reference, "reference_contexts": [text for _, text in chunks],
        "reference_context_ids": [chunk_id for chunk_id, _ in chunks], "run_id": run.id,
        "comparison_id": run.comparison_id, "origin": run.origin, "dataset": run.dataset,
        "question_id": run.question_id, "pipeline": run.pipeline, "model": run.model, "eval_id": eval_id,
        "error": run.error, "latency_s": run.latency_s, "load_s": run.load_s, "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens, "cost_usd": run.cost_usd,
        "usage_estimated": run.usage_estimated, "started_at": run.started_at.isoformat(),
    }


def export_runs(workspace: Workspace, store: Store, fmt: str, out: str | Path, *, dataset: str | None = None,
                pipeline: str | None = None, eval_id: str | None = None, include_errors: bool = False) -> dict:
    """Write the selected runs in ``fmt`` to ``out``; returns what was written."""
    if fmt not in FORMATS:
        raise SandboxError(f"Unknown runs export format {fmt!r}.", f"Use one of: {', '.join(FORMATS)}.")
    runs, evals = select_runs(store, dataset, pipeline, eval_id, include_errors)
    references = References(workspace)
    rows = [run_row(run, *references.of(run), evals.get(run.id)) for run in runs]
    path = Path(out)
    with atomic_path(path) as tmp:
        if fmt == "jsonl":
            with tmp.open("w", encoding="utf-8") as f:
                f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            write_table(rows, COLUMNS, fmt, tmp, cell=neutralise_cell)
    return {"format": fmt, "path": str(path), "rows": len(rows),
            "with_reference_contexts": sum(1 for row in rows if row["reference_contexts"]),
            "unindexed_datasets": sorted(references.unindexed)}
