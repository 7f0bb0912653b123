"""The verdict matrix (tests/verdict_matrix.py): one signal varied at a time, the framework's verdict per cell."""

from __future__ import annotations

import pytest

from sandbox.rules import FINE_TUNING, RETRIEVAL
from tests.verdict_matrix import cells, run

CELLS = cells()


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_cell_gets_the_framework_verdict(tmp_path, cell):
    advice = run(cell, tmp_path)
    got = advice.signals.model_dump()
    for signal, want in cell.target.items():  # the generator really produced the signal it varies
        assert got[signal] == pytest.approx(want, abs=0.03), signal
    assert (advice.recommendation, advice.also) == (cell.expected, cell.also), advice.answers
    assert set(advice.why_not) == {"few-shot", "rag", "fine-tuned"} - {advice.recommendation}


@pytest.mark.parametrize("cell", [c for c in CELLS if c.axis == "examples"][::4], ids=lambda c: c.name)
def test_rules_vote_only_on_their_own_question(tmp_path, cell):
    for r in run(cell, tmp_path).reasons:
        if r.decision == RETRIEVAL:
            assert r.favours in (None, "rag")
        elif r.decision == FINE_TUNING:
            assert r.favours != "rag"
        if r.rule == "data-volume":
            assert r.favours is None and r.weight == 0
