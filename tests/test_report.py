"""Reports render self-contained, with charts embedded and every piece of model text escaped."""

from __future__ import annotations

import json

import pytest

from fakeserver import FakeServer, Reply
from fakes import FakeEmbedder
from sandbox.errors import ConfigError
from sandbox.evaluate import run_eval
from sandbox.report import write_report
from test_evaluate import make_workspace

EVIL = '<script>alert("x")</script> & {"model": "QV-7"}'


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    with FakeServer(Reply(EVIL)) as server:
        ws = make_workspace(root / "ws", server.base_url)
        run_eval(ws, "valves", pipelines=["few-shot", "fine-tuned"], embedder=FakeEmbedder())
    return ws


def test_html_report_is_self_contained_and_escaped(evaluated, tmp_path):
    out = write_report(evaluated, "valves", tmp_path / "r.html")
    text = out.read_text()
    assert text.count('<img alt="') >= 3 and '<img alt="Quality" src="data:image/png;base64,' in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "Recommendation: <b>" in text and "Evidence" in text and "Example answers" in text
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing loads from the network


def test_markdown_report(evaluated, tmp_path):
    text = write_report(evaluated, "valves", tmp_path / "r.md").read_text()
    assert text.startswith("# Which approach for `valves`?")
    assert "| decision | rule | favours | weight | evidence |" in text and "Why not" in text
    assert "![Cost break-even](data:image/png;base64," in text
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_report_before_any_eval(tmp_path):
    ws = make_workspace(tmp_path / "ws", "http://127.0.0.1:9/v1")
    text = write_report(ws, "valves", tmp_path / "r.html").read_text()
    assert "No evaluation yet" in text and "Cost break-even" in text


def test_report_rejects_unknown_suffix(tmp_path):
    ws = make_workspace(tmp_path / "ws", "http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match=r"\.html or \.md"):
        write_report(ws, "valves", tmp_path / "r.pdf")


def test_report_with_a_pipeline_that_never_won(tmp_path):
    """Issue #19 row 9: wilson(0, n)'s low bound came out 5.6e-17 > 0 and matplotlib refused the negative bar."""
    from sandbox.app.judgments_tab import chart, summary_for
    from sandbox.app.context import AppContext
    from sandbox.records import Judgment
    from sandbox.store import Store

    ws = make_workspace(tmp_path / "ws", "http://127.0.0.1:9/v1")
    store = Store(ws.db_path)
    order = ["few-shot", "rag", "fine-tuned"]
    for i in range(6):
        store.add_judgment(Judgment(comparison_id=f"c{i}", dataset="valves", run_ids={}, shown_order=order,
                                    best="rag" if i % 2 else "few-shot", judge="ann"))
    text = write_report(ws, "valves", tmp_path / "r.html", store=store).read_text()
    assert "data:image/png;base64," in text  # the judgments chart rendered
    summary = summary_for(AppContext(workspace=ws, store=store), "valves")
    never = next(r for r in summary["win_rates"] if r["pipeline"] == "fine-tuned")
    assert never["wins"] == 0 and never["ci_low"] == 0.0
    assert chart(summary) is not None  # the Judgments tab's chart, same bars
