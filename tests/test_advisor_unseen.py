"""Verdicts on datasets nobody tuned the advisor on, and the demo datasets' verdicts through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sandbox.advisor import advise
from sandbox.config import load_workspace

UNSEEN = Path(__file__).resolve().parent / "data" / "unseen"
EXPECTED = {  # shape: (recommendation, also)
    "seedbank": ("rag", None),  # documents + questions, no examples
    "hives": ("fine-tuned", None),  # examples only (strict JSON), no documents
    "ferry": ("rag", "fine-tuned"),  # documents + examples: facts from the docs, in a fixed JSON shape
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_unseen_dataset_verdict(tmp_path, name):
    shutil.copytree(UNSEEN / name, tmp_path / "corpora" / name, ignore=shutil.ignore_patterns("*.py", "README.md"))
    advice = advise(load_workspace(tmp_path), name)
    assert (advice.recommendation, advice.also) == EXPECTED[name], advice.answers
    assert len(advice.why_not) == 2 and all(advice.why_not.values())


@pytest.mark.parametrize("dataset,want", [("knowledge", "rag"), ("format", "fine-tuned"), ("instructions", "few-shot")])
def test_demo_verdicts_and_json_contract(demo_copy, capsys, dataset, want):
    from typer.testing import CliRunner

    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(demo_copy), "advise", dataset, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"dataset", "recommendation", "confidence", "reasons", "next_steps", "also"} <= set(data)
    assert data["recommendation"] == want
    assert all({"rule", "decision", "evidence", "favours"} <= set(r) for r in data["reasons"])
