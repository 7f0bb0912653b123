"""Issue #19, one test (or more) per finding: the attack reproduced, now refused or bounded."""

from __future__ import annotations

import asyncio
import json

import pytest

from sandbox.app.context import AppContext
from sandbox.config import load_workspace
from sandbox.errors import DatasetNotFound, SandboxError
from sandbox.judgment_stats import question_tags

OUTSIDE_QUESTIONS = json.dumps({"id": "secret", "question": "outside the workspace"}) + "\n"


@pytest.fixture
def ws_and_outside(workspace_dir, tmp_path):
    (workspace_dir / "corpora" / "d" / "docs").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "questions.jsonl").write_text(OUTSIDE_QUESTIONS)
    (outside / "examples.jsonl").write_text(json.dumps({"input": "private", "output": "data"}) + "\n")
    return load_workspace(workspace_dir), outside


# row 1: a dataset is a name from the workspace, never a path ---------------------------------------------
@pytest.mark.parametrize("name", ["{outside}", "../../outside", "../outside", "d/../../outside", "d/", ".", "..",
                                  "d\\..", "nonexistent", "d\x00"])
def test_dataset_names_are_never_paths(ws_and_outside, name):
    ws, outside = ws_and_outside
    name = name.format(outside=outside)
    with pytest.raises(DatasetNotFound) as err:
        ws.dataset_dir(name)
    message = str(err.value)
    assert str(ws.root) not in message and "Available: d." in message  # the name is echoed, no folder is


def test_same_error_whether_the_outside_folder_exists_or_not(ws_and_outside, tmp_path):
    ws, outside = ws_and_outside
    messages = set()
    for name in (str(outside), str(tmp_path / "missing")):
        with pytest.raises(DatasetNotFound) as err:
            ws.dataset_dir(name)
        messages.add(str(err.value).split("' not found.")[1])  # after the echoed (maybe shortened) name
    assert len(messages) == 1


def test_ask_and_summary_refuse_a_path_as_dataset(ws_and_outside):
    ws, outside = ws_and_outside
    ctx = AppContext.for_workspace(ws)
    with pytest.raises(SandboxError, match="not found"):
        ctx.new_comparison(str(outside), "What?", blind=True)
    with pytest.raises(SandboxError, match="not found"):
        question_tags(ws, [str(outside)])
    from sandbox.app.compare_tab import load_questions

    assert load_questions(ctx, str(outside))[0] == []  # the Compare tab's question list: nothing from outside
