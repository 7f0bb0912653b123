"""Batch eval against a scripted loopback server: scores, storage, resumability, failures, the judge."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from fakeserver import FakeServer, Reply
from sandbox.config import load_workspace
from fakes import FakeEmbedder
from sandbox.evaluate import _judge_order, load_summary, parse_verdict, run_eval
from sandbox.store import Store

DOC = """# Quillon valves

The Quillon QV-7 valve is rated for 340 bar and must be serviced every 18 months.
The QV-9 variant uses a zirconia seat and is rated for 410 bar.
"""
QUESTIONS = [
    {"id": "q1", "question": "Pressure rating of QV-7?", "reference": '{"model": "QV-7", "bar": 340}', "source": "valves.md"},
    {"id": "q2", "question": "Pressure rating of QV-9?", "reference": '{"model": "QV-9", "bar": 410}', "source": "valves.md"},
    {"id": "q3", "question": "Service interval of QV-7?", "reference": '{"model": "QV-7", "months": 18}', "source": "valves.md"},
]
EXAMPLES = [
    {"messages": [{"role": "user", "content": f"Rating of QV-{i}?"}, {"role": "assistant", "content": json.dumps({"model": f"QV-{i}", "bar": 100 + i})}]}
    for i in range(1, 6)
]


def make_workspace(root, base_url: str, *, judge: bool = False, ft_model: str = "ft:quillon"):
    data = root / "corpora" / "valves"
    (data / "docs").mkdir(parents=True)
    (data / "docs" / "valves.md").write_text(DOC)
    (data / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    (data / "examples.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EXAMPLES))
    toml = f'[endpoints.fake]\nbase_url = "{base_url}"\nmodel = "m"\nmax_retries = 0\ntimeout_s = 10\n'
    toml += "price_in_per_mtok = 1.0\nprice_out_per_mtok = 2.0\n"
    for p in ("few-shot", "rag", "fine-tuned"):
        toml += f'[pipelines.{p}]\nendpoint = "fake"\nmax_tokens = 32\n'
    toml += f'[datasets.valves]\nfine_tuned_model = "{ft_model}"\n'
    toml += '[eval]\nconcurrency = 3\n' + ('judge_endpoint = "fake"\n' if judge else "")
    (root / "sandbox.toml").write_text(toml)
    return load_workspace(root)


def scripted(body) -> Reply:
    """Answer like a model would: JSON for the question asked, judge replies for the judge prompt."""
    text = " ".join(str(m.get("content", "")) for m in body["messages"])
    if "Candidate answers" in text:
        return Reply('{"best": "B", "scores": {"A": 2, "B": 5, "C": 3}}')
    question = body["messages"][-1]["content"]
    model = re.search(r"QV-\d", question).group(0)
    bar = {"QV-7": 340, "QV-9": 410}.get(model, 0)
    cite = " [1]" if re.search(r"(?m)^\[1\] ", text) else ""  # RAG: the numbered evidence, "[1] sentence"
    return Reply(json.dumps({"model": model, "bar": bar}) + cite if cite == "" else f"{model} is rated {bar} bar{cite}")


@pytest.fixture
def fake():
    with FakeServer(scripted) as server:
        yield server


@pytest.fixture
def ws(tmp_path, fake):
    from sandbox.index import build_index

    workspace = make_workspace(tmp_path / "ws", fake.base_url)
    build_index(workspace, "valves")  # the RAG pipeline checks the index was built with its embedder
    return workspace


def test_eval_scores_and_stores_every_answer(ws, fake):
    store = Store(ws.db_path)
    seen = []
    summary = run_eval(ws, "valves", limit=2, store=store, embedder=FakeEmbedder(), progress=lambda d, t: seen.append((d, t)))
    assert summary.ran == 6 and summary.skipped == 0 and summary.questions == 2
    assert summary.quality_metric == "json_values"  # JSON references: field agreement is the primary metric
    assert seen[-1] == (6, 6)
    few, rag = summary.pipelines["few-shot"], summary.pipelines["rag"]
    assert few.n == 2 and few.errors == 0
    assert few.metrics["json_valid"].mean == 1.0 and few.metrics["json_values"].mean == 1.0  # scripted answers match
    assert rag.metrics["hit_at_k"].mean == 1.0 and rag.metrics["cites"].mean == 1.0
    assert rag.metrics["json_valid"].mean == 0.0  # prose answer to a JSON reference
    assert "hit_at_k" not in few.metrics  # few-shot retrieves nothing
    assert few.metrics["cost_usd"].mean > 0
    runs = store.runs(origin="eval")
    assert len(runs) == 6 and {r.question_id for r in runs} == {"q1", "q2"}
    with store.connect() as db:
        assert db.exec_driver_sql("SELECT COUNT(*) FROM eval_scores").scalar() == 6
        assert set(db.exec_driver_sql("SELECT status FROM evals").scalars()) == {"done"}


def test_eval_resumes_and_reruns_only_changed_pipelines(ws, fake, tmp_path):
    run_eval(ws, "valves", limit=2, embedder=FakeEmbedder())
    calls = len(fake.requests)
    again = run_eval(ws, "valves", limit=2, embedder=FakeEmbedder())
    assert again.ran == 0 and again.skipped == 6 and len(fake.requests) == calls
    more = run_eval(ws, "valves", embedder=FakeEmbedder())  # one new question per pipeline
    assert more.ran == 3 and more.questions == 3
    from sandbox.config import set_value

    set_value(ws, ["datasets", "valves", "fine_tuned_model"], "ft:quillon-v2")
    changed = run_eval(ws, "valves", embedder=FakeEmbedder())
    assert changed.ran == 3 and {r["model"] for r in fake.requests[-3:]} == {"ft:quillon-v2"}


def test_failing_endpoint_is_an_error_row_not_a_crash(tmp_path):
    with FakeServer(Reply(status=500)) as server:
        ws = make_workspace(tmp_path / "ws", server.base_url)
        summary = run_eval(ws, "valves", pipelines=["few-shot", "fine-tuned"], limit=2, embedder=FakeEmbedder())
    assert summary.pipelines["few-shot"].errors == 2
    assert summary.pipelines["few-shot"].metrics["error"].mean == 1.0
    assert summary.pipelines["few-shot"].metrics["json_valid"].mean == 0.0


def test_llm_judge_randomises_order_and_maps_back(tmp_path):
    with FakeServer(scripted) as server:
        ws = make_workspace(tmp_path / "ws", server.base_url, judge=True)
        summary = run_eval(ws, "valves", pipelines=["few-shot", "rag", "fine-tuned"], embedder=FakeEmbedder())
        judge_calls = [r for r in server.requests if "Candidate answers" in json.dumps(r)]
    assert summary.judged == 3 and len(judge_calls) == 3
    judgments = Store(ws.db_path).judgments("valves")
    assert all(j.judge_kind == "llm" and j.judge.startswith("llm:") for j in judgments)
    # the judge always says "B": the winner is whatever pipeline was shown second
    assert all(j.best == j.shown_order[1] for j in judgments)
    # the order shown is the seeded per-question shuffle, and it varies by question (3 questions
    # alone share one order 1 time in 36, so the variation is checked over more question ids)
    eids = {p: s.eval_id for p, s in summary.pipelines.items()}
    assert all(j.shown_order == _judge_order(eids, j.question_id, list(eids)) for j in judgments)
    assert len({tuple(_judge_order(eids, f"q{i}", list(eids))) for i in range(30)}) > 1
    winners = summary.pipelines[judgments[0].best].metrics["judge_best"]
    assert winners.n == 3
    # resumable: judged questions are not judged again
    assert run_eval(ws, "valves", embedder=FakeEmbedder()).judged == 0


def test_parse_verdict_tolerates_chatter():
    assert parse_verdict('Sure! {"best": "[C]", "scores": {"A": 1, "C": 5, "Z": 3}} done', ["A", "B", "C"]) == ("C", {"A": 1, "C": 5})
    assert parse_verdict("Best: b, clearly.", ["A", "B"]) == ("B", {})
    assert parse_verdict('{"best": "tie"}', ["A", "B"]) == (None, {})


def test_eval_cli_json(ws, fake):
    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "eval", "valves", "--json", "--limit", "1", "-p", "few-shot,rag"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["dataset"] == "valves" and set(data["pipelines"]) == {"few-shot", "rag"}
    assert data["pipelines"]["rag"]["metrics"]["hit_at_k"]["mean"] == 1.0
    summary = load_summary(ws, "valves", pipelines=["few-shot"])
    assert summary.pipelines["few-shot"].n == 1


def test_eval_cli_unknown_pipeline_is_a_clear_error(ws):
    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "eval", "valves", "-p", "magic"])
    assert result.exit_code != 0
    assert "magic" in str(result.exception)


def test_free_text_references_are_judged_on_fact_recall_and_old_rows_are_backfilled(ws, fake):
    """Prose references: fact metrics per answer, fact_recall chosen as the primary metric; answers
    scored before the fact metrics existed get them from their stored runs, without re-answering."""
    prose = [dict(q, reference=f"{q['question'].split()[-1].rstrip('?')} is rated {bar} bar.")
             for q, bar in zip(QUESTIONS, (340, 410, 0))]
    (ws.dataset_dir("valves") / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in prose))
    store = Store(ws.db_path)
    summary = run_eval(ws, "valves", pipelines=["rag"], limit=2, store=store, embedder=FakeEmbedder())
    assert summary.quality_metric == "fact_recall" and "similarity" in summary.quality_reason
    rag = summary.pipelines["rag"].metrics  # scripted RAG answers "QV-7 is rated 340 bar [1]": every fact
    assert rag["fact_recall"].mean == 1.0 and rag["key_fact"].mean == 1.0 and rag["key_fact"].n == 2
    with store.engine.begin() as db:  # as if scored by an older version
        for eid, qid, metrics in db.exec_driver_sql("SELECT eval_id, question_id, metrics FROM eval_scores").fetchall():
            old = {k: v for k, v in json.loads(metrics).items() if k not in ("fact_recall", "key_fact")}
            db.exec_driver_sql("UPDATE eval_scores SET metrics = ? WHERE eval_id = ? AND question_id = ?", (json.dumps(old), eid, qid))
    calls = len(fake.requests)
    again = load_summary(ws, "valves", pipelines=["rag"], store=store)
    assert again.pipelines["rag"].metrics["fact_recall"].mean == 1.0 and len(fake.requests) == calls
    with store.connect() as db:
        assert all("fact_recall" in json.loads(m) for (m,) in db.exec_driver_sql("SELECT metrics FROM eval_scores"))


def test_one_time_loading_is_summed_beside_latency_and_never_averaged_into_it(ws, fake, tmp_path):
    from sandbox.report import write_report

    store = Store(ws.db_path)
    first = run_eval(ws, "valves", limit=2, store=store, embedder=FakeEmbedder(), pipelines=["few-shot"], judge=False)
    eid = first.pipelines["few-shot"].eval_id
    rows = store.eval_scores(eid)
    assert all("load_s" in r["metrics"] for r in rows.values())  # stored with every answer
    store.set_eval_scores([(eid, q, "few-shot", r["run_id"], {**r["metrics"], "load_s": 2.5 if q == "q1" else 0.0})
                           for q, r in rows.items()])
    few = load_summary(ws, "valves", pipelines=["few-shot"], store=store).pipelines["few-shot"]
    assert few.load_s == 2.5 and "load_s" not in few.metrics
    assert few.metrics["latency_s"].mean == pytest.approx(sum(r["metrics"]["latency_s"] for r in rows.values()) / 2)
    report = write_report(ws, "valves", tmp_path / "r.md", store=store).read_text()
    assert "| latency s | load s (once) |" in report and "| 2.50 |" in report
