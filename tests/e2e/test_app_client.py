"""gradio_client against a running app: ask, then judge; the judgment lands in SQLite."""

import sqlite3

import pytest

pytestmark = pytest.mark.integration


def test_ask_and_judge_over_the_api(running_app):
    from gradio_client import Client

    url, ws, server = running_app
    client = Client(url, verbose=False)
    result = client.predict("How fast does the pump run?", "plant", True, "q1", api_name="/ask")
    assert [a["label"] for a in result["answers"]] == ["A", "B", "C"]
    assert all(a["answer"] == "The pump runs at 42 rpm" and a["error"] is None for a in result["answers"])
    assert "pipeline" not in result["answers"][0]  # blind: names come back only with the vote
    assert len(server.requests) == 3

    vote = client.predict(result["comparison_id"], "api-judge", "B", {"A": 2, "B": 1, "C": 3}, {"B": 5},
                          {"A": ["incomplete"]}, "via API", api_name="/judge")
    best = vote["revealed"]["B"]
    assert vote["best"] == best and sorted(vote["revealed"].values()) == ["few-shot", "fine-tuned", "rag"]

    with sqlite3.connect(ws.db_path) as db:
        row = db.execute("SELECT comparison_id, judge, best, question_id FROM judgments").fetchall()
        runs = db.execute("SELECT count(*) FROM runs WHERE comparison_id = ?", (result["comparison_id"],)).fetchone()
    assert row == [(result["comparison_id"], "api-judge", best, "q1")] and runs == (3,)

    with pytest.raises(Exception, match="already been judged"):
        client.predict(result["comparison_id"], "api-judge", "A", None, None, None, "", api_name="/judge")
    with pytest.raises(Exception, match="name"):
        client.predict(result["comparison_id"], "", "A", None, None, None, "", api_name="/judge")
    summary = client.predict("plant", api_name="/summary")
    assert summary["judgments"] == 1 and summary["by_question_tag"]["facts"]
