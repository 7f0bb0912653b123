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


def test_sessions_tab_creates_lists_and_closes_a_session(app_factory, browser):
    """The Sessions tab as an organiser uses it: a name with markup stays text, the link appears, the
    results fill as a judge votes over the API, and closing makes the votes final."""
    from gradio_client import Client

    from sandbox.store import Store

    url, ws, _ = app_factory(prepare=three_questions)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.get_by_role("tab", name="Sessions").click()
    page.locator("#session-name input, #session-name textarea").first.fill("<img src=x onerror=alert(1)>")
    page.locator("#session-count input").fill("2")
    page.locator("#session-create").click()
    wait_text(page, "#session-link", "?session=")
    (session,) = Store(ws.db_path).sessions()
    assert len(session.items) == 2 and session.name == "<img src=x onerror=alert(1)>"
    assert page.locator("#session-link textarea, #session-link input").first.input_value().endswith(f"/?session={session.id}")
    assert "<img src=x onerror=alert(1)>" in page.locator("#session-table").inner_text()  # shown as text

    judge = Client(url, verbose=False, httpx_kwargs={"timeout": 300})
    plan = judge.predict(session.id, "carol", api_name="/session_plan")
    for item in plan["comparisons"]:
        judge.predict(session.id, item["comparison_id"], "carol", "A", None, None, None, "", api_name="/session_vote")
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("tab", name="Sessions").click()  # selecting the tab refreshes the table and the results
    wait_text(page, "#session-results", "2 judgment(s) by 1 judge(s)")

    page.locator("#session-close").click()
    page.wait_for_function("() => document.querySelector('#session-table').innerText.includes('closed')", timeout=TIMEOUT)
    assert Store(ws.db_path).sessions()[0].status == "closed" and not dialogs
