"""`sandbox runs export` (#18): ragas' SingleTurnSample fields with reference contexts from the question's
source document in the real (Chroma on disk) index, failed runs left out unless asked, eval filter, and a
declared table schema stable across exports of different data.

ragas itself is not installable here without changing pinned packages, so the field set and types are
checked against tests/data/ragas/single_turn_sample.json, copied from ragas 0.4.3 (provenance in the file)."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from pydantic import create_model

from fakes import FakeEmbedder
from sandbox.config import load_workspace
from sandbox.index import build_index
from sandbox.records import Context, RunRecord
from sandbox.runs_export import COLUMNS, RAGAS_FIELDS, export_runs
from sandbox.store import Store
from sandbox.vectorstore import source_chunks

RAGAS = json.loads((Path(__file__).parent / "data" / "ragas" / "single_turn_sample.json").read_text())


def single_turn_sample():
    """ragas' SingleTurnSample rebuilt from the fixture: every field Optional, extra keys ignored (pydantic default)."""
    types = {"str": str, "list[str]": list[str], "list[str | int]": list[str | int], "dict[str, str]": dict[str, str]}
    return create_model("SingleTurnSample", **{n: (typing.Optional[types[t]], None) for n, t in RAGAS["fields"].items()})


@pytest.fixture
def ws(workspace_dir):
    (workspace_dir / "sandbox.toml").write_text("[index]\nchunk_tokens = 40\nchunk_overlap = 8\n")
    folder = workspace_dir / "corpora" / "plant"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "pumps.md").write_text("# Pumps\n\n" + " ".join(f"Pump {i} needs valve {i} reset first." for i in range(30)))
    (folder / "docs" / "fans.md").write_text("# Fans\n\nFans spin. Dust the blades monthly.")
    (folder / "questions.jsonl").write_text(json.dumps({"id": "q1", "question": "What before pump 3?", "reference": "Reset valve 3.",
                                                        "source": "pumps.md"}) + "\n")
    ws = load_workspace(workspace_dir)
    build_index(ws, "plant", embedder=FakeEmbedder())
    return ws


def runs_for(ws, store, answer="Reset valve 3.", comparison="c1"):
    pumps = source_chunks(ws, "plant", {"pumps.md"})["pumps.md"]
    shown = [Context(source="pumps.md", text=text, chunk_id=cid) for cid, text in pumps[:2]]
    good = RunRecord(pipeline="rag", dataset="plant", question_id="q1", user_input="What before pump 3?", response=answer,
                     contexts=shown, comparison_id=comparison, model="smollm2", latency_s=1.5, load_s=3.0, prompt_tokens=90,
                     completion_tokens=4, cost_usd=0.0)
    failed = RunRecord(pipeline="few-shot", dataset="plant", question_id="q1", user_input="What before pump 3?",
                       error="endpoint down", comparison_id=comparison)
    store.add_runs([good, failed])
    return good, failed, pumps


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_is_ragas_single_turn_data_with_reference_contexts(ws, tmp_path):
    store = Store(tmp_path / "s.db")
    good, failed, pumps = runs_for(ws, store)
    store.start_eval("ev1", "plant", {})
    store.set_eval_scores([("ev1", "q1", "rag", good.id, {"exact": 1.0})])
    result = export_runs(ws, store, "jsonl", tmp_path / "runs.jsonl")
    [row] = rows(tmp_path / "runs.jsonl")  # the failed run is left out
    assert result["rows"] == 1 and result["with_reference_contexts"] == 1
    assert set(RAGAS_FIELDS) <= set(RAGAS["fields"]) and set(RAGAS_FIELDS) <= set(row)
    sample = single_turn_sample()(**row)  # what EvaluationDataset.from_list does with each row
    assert sample.user_input == "What before pump 3?" and sample.reference == "Reset valve 3."
    assert sample.reference_contexts == [text for _, text in pumps] and len(pumps) > 2
    assert sample.reference_context_ids == [cid for cid, _ in pumps]
    # ragas 0.4.3 IDBasedContextRecall._single_turn_ascore: share of reference ids found among the retrieved ones
    recall = len(set(sample.retrieved_context_ids) & set(sample.reference_context_ids)) / len(sample.reference_context_ids)
    assert recall == pytest.approx(2 / len(pumps))
    assert {k: row[k] for k in ("run_id", "pipeline", "model", "eval_id", "latency_s", "load_s", "prompt_tokens",
                                "cost_usd")} == {
        "run_id": good.id, "pipeline": "rag", "model": "smollm2", "eval_id": "ev1", "latency_s": 1.5, "load_s": 3.0,
        "prompt_tokens": 90, "cost_usd": 0.0}

    with_errors = export_runs(ws, store, "jsonl", tmp_path / "all.jsonl", include_errors=True)
    assert with_errors["rows"] == 2 and rows(tmp_path / "all.jsonl")[1]["error"] == "endpoint down"
    assert export_runs(ws, store, "jsonl", tmp_path / "e.jsonl", eval_id="nope")["rows"] == 0
    assert export_runs(ws, store, "jsonl", tmp_path / "p.jsonl", pipeline="few-shot", include_errors=True)["rows"] == 1


def test_table_schema_is_stable_across_exports_of_different_data(ws, tmp_path):
    import pyarrow.parquet as pq

    from sandbox.table_schema import arrow_schema, pandas_dtypes, read_table

    full, sparse = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    runs_for(ws, full)
    sparse.add_run(RunRecord(pipeline="fine-tuned", user_input="", response="=1+1", dataset=""))  # no question, no contexts
    seen = []
    for name, store in (("a", full), ("b", sparse)):
        for fmt in ("csv", "parquet"):
            export_runs(ws, store, fmt, tmp_path / f"{name}.{fmt}", include_errors=True)
            seen.append({c: str(t) for c, t in read_table(tmp_path / f"{name}.{fmt}", COLUMNS).dtypes.items()})
        assert pq.read_schema(tmp_path / f"{name}.parquet").remove_metadata() == arrow_schema(COLUMNS)
    assert all(s == pandas_dtypes(COLUMNS) for s in seen)
    back = read_table(tmp_path / "b.csv", COLUMNS)
    assert back.loc[0, "user_input"] == "" and back.loc[0, "reference_contexts"] == []  # empty stays empty, not NaN
    assert back.loc[0, "response"] == "'=1+1"  # neutralised for spreadsheets, as the judgments CSV


def test_cli_runs_export_json(ws, tmp_path):
    from typer.testing import CliRunner

    from sandbox.cli import app
    from sandbox.store import open_store

    runs_for(ws, open_store(ws))
    out = CliRunner().invoke(app, ["--workspace", str(ws.root), "runs", "export", "-d", "plant", "--format", "jsonl",
                                   "--out", str(tmp_path / "r.jsonl"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rows"] == 1 and rows(tmp_path / "r.jsonl")[0]["reference_context_ids"]
    bad = CliRunner().invoke(app, ["--workspace", str(ws.root), "runs", "export", "--pipeline", "zero-shot"])
    assert bad.exit_code != 0
