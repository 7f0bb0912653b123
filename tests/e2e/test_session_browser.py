"""A judging session in headless Chromium with logins: log in, open the link, vote on every comparison,
go back and change a vote, see the results; the login is the judge's name (over the API too); a second
judge votes on an asked comparison through its shared link."""

import json
import sqlite3

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TIMEOUT = 60_000
LOGINS = [("ann", "pw-ann"), ("bob", "pw-bob")]


def three_questions(root):
    lines = [json.dumps({"id": f"q{i}", "question": f"How fast does pump {i} run?"}) for i in range(3)]
    (root / "corpora" / "plant" / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def wait_text(page, selector, text):
    """Wait until the element's text (or its field's value) contains ``text``."""
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); const f = e?.querySelector('textarea, input');"
        " return ((e?.innerText || '') + (f?.value || '')).includes(t); }", arg=[selector, text], timeout=TIMEOUT)


def test_session_link_vote_all_change_one_and_see_results(app_factory, make_session, browser):
    from gradio_client import Client

    url, ws, _ = app_factory(prepare=three_questions, auth=LOGINS)
    session = make_session(ws, name="<b>pumps</b>")

    page = browser.new_page()
    page.goto(f"{url}?session={session.id}")
    page.locator("input[type=password]").wait_for(timeout=TIMEOUT)
    page.locator("input:not([type=password])").first.fill("ann")
    page.locator("input[type=password]").fill("pw-ann")
    page.keyboard.press("Enter")
    page.locator("#s-title textarea, #s-title input").first.wait_for(timeout=TIMEOUT)
    wait_text(page, "#s-status", "Pick the best answer")
    name = page.locator("#judge-name input, #judge-name textarea").first
    assert name.input_value() == "ann" and not name.is_editable()  # the login is the name
    assert not page.locator("#question").is_visible()  # the Compare tab is replaced by the judging view
    title = page.locator("#s-title textarea, #s-title input").first
    assert "<b>pumps</b>" in title.input_value() and "comparison 1 of 3" in title.input_value()
    assert page.locator("#s-answer-0 textarea").input_value() == "The pump runs at 42 rpm"

    for k in range(3):
        page.locator("#s-verdict input[value='A']").check()
        page.locator("#s-vote").click()
        wait_text(page, "#s-title", f"you voted on {k + 1} of 3")
    wait_text(page, "#s-status", "All comparisons judged")
    results = page.locator("#s-results textarea")
    results.wait_for(timeout=TIMEOUT)
    assert "3 judgment(s) by 1 judge(s)" in results.input_value() and "ann: left column picked in 3 of 3" in results.input_value()

    page.locator("#s-back").click()  # the last one again: the form shows the vote, which can change
    wait_text(page, "#s-status", "vote again to change")
    assert page.locator("#s-verdict input[value='A']").is_checked()
    page.locator("#s-verdict input[value='Tie']").check()
    page.locator("#s-vote").click()
    wait_text(page, "#s-status", "Vote recorded")

    bob = Client(url, auth=LOGINS[1], verbose=False, httpx_kwargs={"timeout": 300})
    item = bob.predict(session.id, "mallory", api_name="/session_plan")["comparisons"][0]
    assert bob.predict(session.id, item["comparison_id"], "mallory", "B", None, None, None, "",
                       api_name="/session_vote")["judge"] == "bob"  # the login, not the typed name
    with sqlite3.connect(ws.db_path) as db:
        current = db.execute("SELECT judge, verdict FROM judgments WHERE session_id = ? ORDER BY judge, verdict",
                             (session.id,)).fetchall()
        versions = db.execute("SELECT count(*) FROM judgment_versions").fetchone()
    assert current == [("ann", "best"), ("ann", "best"), ("ann", "tie"), ("bob", "best")] and versions == (5,)

    # an ad-hoc comparison: bob asks and votes once; ann opens the shared link and votes on the same answers
    asked = bob.predict("How fast does pump 1 run?", "plant", True, "", api_name="/ask")
    bob.predict(asked["comparison_id"], "bob", "A", None, None, None, "", api_name="/judge")
    page.goto(f"{url}?comparison={asked['comparison_id']}")
    wait_text(page, "#s-status", "Pick the best answer")
    page.locator("#s-verdict input[value='C']").check()
    page.locator("#s-vote").click()
    wait_text(page, "#s-status", "You voted on this comparison")
    with sqlite3.connect(ws.db_path) as db:
        shared = db.execute("SELECT judge FROM judgments WHERE comparison_id = ? ORDER BY judge",
                            (asked["comparison_id"],)).fetchall()
    assert shared == [("ann",), ("bob",)]
