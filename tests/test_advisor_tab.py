"""Evaluate and Advisor tabs: the app builds with them; their handlers work on a scripted server."""

from __future__ import annotations

from fakeserver import FakeServer
from sandbox.app import TABS, build_app
from sandbox.app import advisor_tab, evaluate_tab
from sandbox.app.context import AppContext
from test_evaluate import make_workspace, scripted


def test_tabs_are_included_and_build(tmp_path):
    ws = make_workspace(tmp_path / "ws", "http://127.0.0.1:9/v1")
    assert {"sandbox.app.evaluate_tab", "sandbox.app.advisor_tab"} <= {tab.__name__ for tab in TABS}
    demo = build_app(ws)
    assert demo is not None


def test_evaluate_and_advise_handlers(tmp_path):
    with FakeServer(scripted) as server:
        ws = make_workspace(tmp_path / "ws", server.base_url)
        ctx = AppContext.for_workspace(ws)
        assert "Not evaluated yet" in evaluate_tab.views(evaluate_tab.current(ctx, "valves"))[0]
        fractions = []
        summary = evaluate_tab.run(ctx, "valves", ["few-shot", "fine-tuned"], 2, lambda f, desc="": fractions.append(f))
    assert fractions[-1] == 1.0
    status, table, quality, cost = evaluate_tab.views(summary)
    assert "2 held-out questions" in status and len(table) == 2 and quality is not None and cost is not None
    advice = advisor_tab.advise(ctx, "valves")
    assert advice.recommendation in ("few-shot", "rag", "fine-tuned")
    assert advisor_tab.reasons_table(advice) and "Confidence" in advisor_tab.verdict_markdown(advice)
    path = advisor_tab.report_file(ctx, "valves")
    assert path.endswith(".html") and "data:image/png;base64," in open(path).read()
