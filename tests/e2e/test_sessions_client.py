"""A judging session over gradio_client against a running app (real pipelines over HTTP to the
scripted server, real Gradio, real SQLite): 30 judges x 20 comparisons at once."""

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.integration
JUDGES, QUESTIONS = 30, 20


def twenty_questions(root):
    lines = [json.dumps({"id": f"q{i:02d}", "question": f"How fast does pump {i} run?", "reference": f"{i} rpm"})
             for i in range(QUESTIONS)]
    (root / "corpora" / "plant" / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def session_app(app_factory, make_session):
    url, ws, server = app_factory(prepare=twenty_questions)
    session = make_session(ws, name="load test")
    assert len(server.requests) == 3 * QUESTIONS and session.answers_from == {"eval": 0, "generated": 60}
    return url, ws, session


def judge_all(client, session_id, judge):
    """One judge: fetch their plan, vote on every comparison (a pick that depends on judge and position)."""
    plan = client.predict(session_id, judge, api_name="/session_plan")
    for k, item in enumerate(plan["comparisons"]):
        client.predict(session_id, item["comparison_id"], judge, "ABC"[(k + len(judge)) % 3], None, None, None, "",
                       api_name="/session_vote")
    return [item["comparison_id"] for item in plan["comparisons"]]


def test_thirty_judges_vote_on_twenty_comparisons_at_once(session_app):
    from gradio_client import Client

    url, ws, session = session_app
    judges = [f"judge-{i:02d}" for i in range(JUDGES)]
    client = Client(url, verbose=False, httpx_kwargs={"timeout": 300})  # one client, 30 judges' calls in flight at once (a judge is a name)
    with ThreadPoolExecutor(JUDGES) as pool:
        orders = dict(zip(judges, pool.map(lambda j: judge_all(client, session.id, j), judges)))

    with sqlite3.connect(ws.db_path) as db:
        rows = db.execute("SELECT judge, comparison_id FROM judgments WHERE session_id = ?", (session.id,)).fetchall()
        versions = db.execute("SELECT count(*) FROM judgment_versions WHERE session_id = ?", (session.id,)).fetchone()
    assert len(rows) == JUDGES * QUESTIONS == len(set(rows)) and versions == (600,)  # none lost, none twice
    assert {(j, c) for j in judges for c in orders[j]} == set(rows)
    assert len({tuple(order) for order in orders.values()}) == JUDGES  # every judge has their own order

    again = client.predict(session.id, "judge-07", api_name="/session_plan")
    assert [i["comparison_id"] for i in again["comparisons"]] == orders["judge-07"]  # reproducible
    assert all(i["vote"] in ("A", "B", "C") for i in again["comparisons"])
    assert "pipeline" not in json.dumps(again["comparisons"][0]["answers"])  # blind

    # changing a vote keeps the history and counts the latest
    first = again["comparisons"][0]["comparison_id"]
    client.predict(session.id, first, "judge-07", "tie", None, None, None, "second thoughts", api_name="/session_vote")
    results = client.predict(session.id, api_name="/session_results")
    assert results["judgments"] == 600 and results["verdicts"]["tie"] == 1
    assert results["session"]["remaining_by_judge"]["judge-07"] == 0
    with sqlite3.connect(ws.db_path) as db:
        history = db.execute("SELECT record FROM judgment_versions WHERE judge = 'judge-07' AND comparison_id = ? "
                             "ORDER BY created_at", (first,)).fetchall()
    assert [json.loads(r[0])["verdict"] for r in history] == ["best", "tie"]

    with pytest.raises(Exception, match="No session"):
        client.predict("nosuch", "x", api_name="/session_plan")
