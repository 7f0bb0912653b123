"""`sandbox runs export`: runs out of the store as ragas evaluation data (JSONL, Parquet or CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sandbox.commands.shared import JsonOpt, app, print_json, workspace
from sandbox.errors import ConfigError

runs_app = typer.Typer(help="The runs stored by ask, the app, eval and the API.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
SUFFIX = {"jsonl": ".jsonl", "parquet": ".parquet", "csv": ".csv"}


@runs_app.command("export")
def export_command(
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl (ragas EvaluationDataset.from_list reads it) | parquet | csv."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: runs<suffix> in the current folder)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset's runs."),
    pipeline: Optional[str] = typer.Option(None, "--pipeline", "-p", help="Only this pipeline's runs (few-shot, rag, fine-tuned)."),
    eval_id: Optional[str] = typer.Option(None, "--eval", help="Only the runs scored by this eval (its id from `sandbox eval`)."),
    include_errors: bool = typer.Option(False, "--include-errors", help="Also failed runs (error set or empty response)."),
    json_out: bool = JsonOpt,
) -> None:
    """Export runs with ragas' SingleTurnSample fields plus run id, pipeline, model, latency, tokens, cost, eval id.

    reference_contexts / reference_context_ids are the indexed chunks of the question's `source` document,
    so ragas' context metrics (NonLLMContextRecall, IDBasedContextRecall) can score retrieval.
    """
    from sandbox import PIPELINES
    from sandbox.runs_export import FORMATS, export_runs  # sqlalchemy, chromadb: not for --help
    from sandbox.store import open_store

    if format not in FORMATS:
        raise ConfigError(f"Unknown format {format!r}.", f"Use one of: {', '.join(FORMATS)}.")
    if pipeline and pipeline not in PIPELINES:
        raise ConfigError(f"Unknown pipeline {pipeline!r}.", f"Use one of: {', '.join(PIPELINES)}.")
    ws = workspace()
    if dataset:
        ws.dataset_dir(dataset)  # a typo gets "not found, available: ..." instead of an empty file
    result = export_runs(ws, open_store(ws), format, out or Path(f"runs{SUFFIX[format]}"), dataset=dataset,
                         pipeline=pipeline, eval_id=eval_id, include_errors=include_errors)
    if json_out:
        print_json(result)
        return
    typer.echo(f"Wrote {result['rows']} runs ({result['with_reference_contexts']} with reference contexts) to {result['path']}")
    for name in result["unindexed_datasets"]:
        typer.echo(f"No index for dataset {name!r}: reference contexts are empty. Run `sandbox index {name}` first.")
