"""Verdicts on datasets nobody tuned the advisor on, and the demo datasets' verdicts through the CLI."""

from __future__ import annotations

import json
import pytest

from sandbox.advisor import advise
from sandbox.config import load_workspace
from tests.verdict_matrix import EXPECTED, UNSEEN, copy_unseen

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_unseen_dataset_verdict(tmp_path, name):
    copy_unseen(name, tmp_path / "corpora")
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
