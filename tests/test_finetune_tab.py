"""Fine-tune tab handlers (plain functions) and the tab's presence in the app."""

from __future__ import annotations

import json

from sandbox.app import finetune_tab
from sandbox.app.context import AppContext
from sandbox.config import load_workspace


def make_ctx(root):
    return AppContext.for_workspace(load_workspace(root))


def test_preflight_and_refused_start_leave_nothing_uploaded(workspace_dir):
    ds = workspace_dir / "corpora" / "tickets"
    ds.mkdir()
    good = [{"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": f"a {i}"}]} for i in range(12)]
    (ds / "examples.jsonl").write_text("\n".join(json.dumps(r) for r in good) + '\n{"messages": []}\n')
    ctx = make_ctx(workspace_dir)
    report = finetune_tab.preflight_text(ctx, "tickets")
    assert "ERROR line 13 [missing_messages_list]" in report
    job, message = finetune_tab.start(ctx, "tickets", 2)
    assert job == "" and "line 13" in message and "nothing was uploaded" in message
    assert not (workspace_dir / ".sandbox" / "finetune" / "files").exists()
    assert finetune_tab.start(ctx, None, 2)[1].startswith("Pick a dataset")
    assert finetune_tab.progress(ctx, "", "tickets") == ("No job running.", [], True)


def test_app_has_the_finetune_tab(workspace_dir):
    from sandbox.app import build_app

    (workspace_dir / "corpora" / "d").mkdir()
    demo = build_app(load_workspace(workspace_dir))
    labels = [c.get("props", {}).get("label") for c in demo.config["components"]]
    assert "Fine-tune" in labels and "Preflight report" in labels
