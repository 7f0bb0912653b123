"""Judging sessions without an app: creating (eval answers reused, the rest generated once),
per-judge plans, changeable votes with history, closing, shared ad-hoc comparisons, results."""

import json
import threading

import pytest

from sandbox import PIPELINES
from sandbox.compare import Done
from sandbox.config import load_workspace
from sandbox.evaluate import eval_id, pipeline_config
from sandbox.judging import VoteRefused
from sandbox.records import RunRecord
from sandbox.sessions import (SessionError, cast_shared_vote, cast_vote, close_session, create_session, plan, results,
                              shared_comparison, votes_of)
from sandbox.store import Store


class Scripted:
    """stream_compare stand-in: answers '<pipeline> on <question id>', stores the runs, counts calls."""

    def __init__(self):
        self.calls = []

    async def __call__(self, workspace, question, *, dataset, pipelines, question_id="", store=None, comparison_id=None,
                       origin="ask", **kwargs):
        self.calls.append((question_id, tuple(pipelines)))
        for p in pipelines:
            record = RunRecord(pipeline=p, user_input=question, dataset=dataset, question_id=question_id, origin=origin,
                               comparison_id=comparison_id, response=f"{p} on {question_id}")
            store.add_run(record)
            yield Done(record)


@pytest.fixture
def ws(workspace_dir):
    data = workspace_dir / "corpora" / "d"
    (data / "docs").mkdir(parents=True)
    (data / "questions.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "question": f"Question {i}?",
                                                              "reference": f"ref {i}"}) + "\n" for i in range(1, 6)))
    return load_workspace(workspace_dir)


def store_eval_answers(ws, store, qids):
    for p in PIPELINES:
        eid = eval_id(pipeline_config(ws, "d", p))
        runs = [RunRecord(pipeline=p, user_input=q, dataset="d", question_id=q, origin="eval", response=f"eval {p} {q}")
                for q in qids]
        store.add_runs(runs)
        store.set_eval_scores((eid, r.question_id, p, r.id, {"error": False}) for r in runs)


def test_create_generates_once_with_progress_and_records_settings(ws):
    store, stream, seen = Store(ws.db_path), Scripted(), []
    session = create_session(ws, "d", name=" team A ", count=3, store=store, stream_compare=stream,
                             progress=lambda done, total: seen.append((done, total)))
    assert session.name == "team A" and [i.question_id for i in session.items] == ["q1", "q2", "q3"]
    assert sorted(stream.calls) == [(f"q{i}", PIPELINES) for i in (1, 2, 3)]
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert session.answers_from == {"eval": 0, "generated": 9}
    assert session.settings["rag"]["k"] == ws.settings.pipelines["rag"].k
    item = session.items[0]
    assert {p: store.get_run(r).response for p, r in item.run_ids.items()} == {p: f"{p} on q1" for p in PIPELINES}
    assert store.get_session(session.id) == session and store.get_run(item.run_ids["rag"]).origin == "session"


def test_eval_answers_of_the_current_settings_are_reused(ws):
    store, stream = Store(ws.db_path), Scripted()
    store_eval_answers(ws, store, ["q2", "q4"])
    session = create_session(ws, "d", ids=["q4", "q1"], store=store, stream_compare=stream)
    assert [i.question_id for i in session.items] == ["q4", "q1"] and stream.calls == [("q1", PIPELINES)]
    assert session.answers_from == {"eval": 3, "generated": 3}
    assert store.get_run(session.items[0].run_ids["rag"]).response == "eval rag q4"

    only = create_session(ws, "d", from_eval=True, store=store, stream_compare=stream)
    assert [i.question_id for i in only.items] == ["q2", "q4"] and len(stream.calls) == 1
    with pytest.raises(SessionError, match="did not answer q1"):
        create_session(ws, "d", ids=["q1"], from_eval=True, store=store, stream_compare=stream)
    with pytest.raises(SessionError, match="'nope'"):
        create_session(ws, "d", ids=["nope"], store=store, stream_compare=stream)


def test_plans_are_reproducible_per_judge_and_differ_between_judges(ws):
    session = create_session(ws, "d", store=Store(ws.db_path), stream_compare=Scripted())
    key = lambda judge: [(s.item.question_id, tuple(s.order)) for s in plan(session, judge)]  # noqa: E731
    assert key("ann") == key("ann") == key(" ann ")
    orders = {tuple(key(f"judge-{i}")) for i in range(30)}
    assert len(orders) == 30
    assert {frozenset(q for q, _ in k) for k in orders} == {frozenset(f"q{i}" for i in range(1, 6))}


def test_a_vote_can_change_until_closed_and_every_version_is_kept(ws):
    store = Store(ws.db_path)
    session = create_session(ws, "d", count=2, store=store, stream_compare=Scripted())
    first = plan(session, "ann")[0]
    cid = first.item.comparison_id
    cast_vote(store, session.id, cid, judge="ann", verdict="A")
    cast_vote(store, session.id, cid, judge="ann", verdict="tie", comment="changed my mind")
    cast_vote(store, session.id, cid, judge="bob", verdict="B")
    current = store.judgments(session_id=session.id)
    assert sorted((j.judge, j.verdict) for j in current) == [("ann", "tie"), ("bob", "best")]
    history = store.judgment_versions(session.id, cid, "ann")
    assert [(j.verdict, j.best) for j in history] == [("best", first.order[0]), ("tie", None)]
    assert votes_of(store, session, "ann")[cid].comment == "changed my mind"
    assert all(j.session_id == session.id for j in current)

    with pytest.raises(VoteRefused, match="name"):
        cast_vote(store, session.id, cid, judge=" ", verdict="A")
    with pytest.raises(VoteRefused, match="not part of session"):
        cast_vote(store, session.id, "other", judge="ann", verdict="A")
    assert close_session(store, session.id).status == "closed"
    assert close_session(store, session.id).status == "closed"  # twice is harmless
    with pytest.raises(VoteRefused, match="closed"):
        cast_vote(store, session.id, cid, judge="ann", verdict="B")
    assert len(store.judgment_versions(session.id)) == 3
    with pytest.raises(SessionError, match="No session"):
        close_session(store, "nosuch")


def test_a_shared_ad_hoc_comparison_takes_one_vote_per_judge(ws):
    store, lock = Store(ws.db_path), threading.Lock()
    runs = [RunRecord(pipeline=p, user_input="Why?", dataset="d", comparison_id="cmp-1", response=p) for p in PIPELINES]
    store.add_runs(runs)
    shared = shared_comparison(store, "cmp-1")
    assert shared.items[0].user_input == "Why?" and set(shared.pipelines) == set(PIPELINES)
    cast_shared_vote(store, lock, "cmp-1", judge="ann", verdict="A")
    cast_shared_vote(store, lock, "cmp-1", judge="bob", verdict="tie")
    with pytest.raises(VoteRefused, match="already judged"):
        cast_shared_vote(store, lock, "cmp-1", judge="ann", verdict="B")
    assert sorted(j.judge for j in store.judgments()) == ["ann", "bob"]
    with pytest.raises(SessionError, match="No comparison"):
        shared_comparison(store, "cmp-404")


def test_results_flag_a_judge_who_always_picks_the_left_column(ws):
    store = Store(ws.db_path)
    session = create_session(ws, "d", store=store, stream_compare=Scripted())
    for shown in plan(session, "lefty"):
        cast_vote(store, session.id, shown.item.comparison_id, judge="lefty", verdict="A")
    for shown in plan(session, "fan"):  # always the same pipeline, wherever the shuffle put it
        cast_vote(store, session.id, shown.item.comparison_id, judge="fan", verdict="ABC"[shown.order.index("rag")])
    out = results(store, session)
    bias = out["position_bias"]
    assert bias["lefty"]["share"] == 1.0 and bias["lefty"]["biased"]
    fan_left = sum(shown.order[0] == "rag" for shown in plan(session, "fan"))  # where the shuffle happened to put it
    assert bias["fan"]["expected"] == pytest.approx(1 / 3) and bias["fan"]["left"] == fan_left
    assert out["session"]["remaining_by_judge"] == {"fan": 0, "lefty": 0} and out["session"]["unjudged"] == 0
    assert out["agreement"]["questions"] == 5 and out["judgments"] == 10


def test_cli_create_list_show_close_and_export(ws, tmp_path):
    from typer.testing import CliRunner

    from sandbox.cli import app

    store = Store(ws.db_path)
    store_eval_answers(ws, store, ["q1", "q2", "q3"])
    cli = lambda *args: CliRunner().invoke(app, ["--workspace", str(ws.root), "session", *args])  # noqa: E731
    created = cli("create", "d", "--from-eval", "--questions", "2", "--name", "[b]team[/b]", "--json")
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["question_ids"] == ["q1", "q2"] and data["answers_from"] == {"eval": 6, "generated": 0}
    assert data["link"] == f"http://127.0.0.1:7860/?session={data['id']}" and data["settings"]["rag"]["k"]
    plain = cli("create", "d", "--from-eval", "--ids", "q3")
    assert "[b]team[/b]" not in plain.output and "?session=" in plain.output  # names print as text, not markup

    for shown in plan(store.get_session(data["id"]), "ann"):
        cast_vote(store, data["id"], shown.item.comparison_id, judge="ann", verdict="A")
    listed = json.loads(cli("list", "--json").output)
    assert [(s["id"], s["votes"]) for s in listed][-1] == (data["id"], 2)
    shown = json.loads(cli("show", data["id"], "--json").output)
    assert shown["results"]["judgments"] == 2 and shown["results"]["position_bias"]["ann"]["left"] == 2
    assert "picked the left column in 2 of 2" in cli("show", data["id"]).output
    assert json.loads(cli("close", data["id"], "--json").output)["status"] == "closed"

    out = tmp_path / "votes.csv"
    export = CliRunner().invoke(app, ["--workspace", str(ws.root), "judgments", "export", "--session", data["id"],
                                      "-f", "csv", "-o", str(out), "--json"])
    assert json.loads(export.output)["judgments"] == 2
    from sandbox.judgment_export import read_judgments

    assert {j.session_id for j in read_judgments(out)} == {data["id"]}
    missing = cli("show", "nosuch")
    assert missing.exit_code != 0 and "No session" in str(missing.exception)
    both = cli("create", "d", "--questions", "2", "--ids", "q1")
    assert both.exit_code != 0 and "--questions and --ids" in str(both.exception)


def test_the_advisor_takes_a_session_as_human_evidence(ws):
    from sandbox.advisor import advise

    (ws.corpora_dir / "d" / "examples.jsonl").write_text(
        "".join(json.dumps({"input": f"Question {i}?", "output": f"ref {i}"}) + "\n" for i in range(10)))
    store = Store(ws.db_path)
    session = create_session(ws, "d", store=store, stream_compare=Scripted())
    for judge in [f"j{i}" for i in range(4)]:
        for shown in plan(session, judge):
            cast_vote(store, session.id, shown.item.comparison_id, judge=judge, verdict="ABC"[shown.order.index("rag")])
    advice = advise(ws, "d", store=store, session_id=session.id)
    human = next(r for r in advice.reasons if r.rule == "human-judgments")
    assert human.favours == "rag" and "20 human judgments" in human.evidence
    assert not any(r.rule == "human-judgments" for r in advise(ws, "d", store=store, session_id="other").reasons)


def test_votes_at_once_on_either_dialect_keep_one_current_vote_each(ws, any_store):
    from concurrent.futures import ThreadPoolExecutor

    session = create_session(ws, "d", store=any_store, stream_compare=Scripted())
    judges = [f"j{i}" for i in range(8)]

    def judge_all(judge):
        for shown in plan(session, judge):
            cast_vote(any_store, session.id, shown.item.comparison_id, judge=judge, verdict="A")
            cast_vote(any_store, session.id, shown.item.comparison_id, judge=judge, verdict="tie")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(judge_all, judges))
    current = any_store.judgments(session_id=session.id)
    assert len(current) == 40 == len({(j.judge, j.comparison_id) for j in current})
    assert {j.verdict for j in current} == {"tie"} and len(any_store.judgment_versions(session.id)) == 80
    flat = [r for r in any_store.flat_judgments() if r["judgment_id"] in {j.id for j in current}]
    assert len(flat) == 120  # the replaced votes' answer rows are gone with them
    assert [s.id for s in any_store.sessions("d")] == [session.id]
    assert close_session(any_store, session.id).status == "closed" and not any_store.add_session_vote(current[0])
