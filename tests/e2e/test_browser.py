"""The app in headless Chromium: ask, watch three answers, vote blind, see the reveal; and XSS."""

import sqlite3

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TIMEOUT = 30_000


def answers(page):
    return [page.locator(f"#answer-{i} textarea").input_value() for i in range(3)]


def ask_and_wait(page, url, question):
    page.goto(url)
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('All answers are in')",
                           timeout=TIMEOUT)


def vote(page, name, label):
    page.locator("#judge-name input, #judge-name textarea").first.fill(name)
    page.locator(f"#verdict input[value='{label}']").check()
    page.locator("#vote").click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Vote recorded')",
                           timeout=TIMEOUT)


def test_ask_vote_blind_and_reveal(running_app, browser):
    url, ws, _ = running_app
    page = browser.new_page()
    ask_and_wait(page, url, "How fast does the pump run?")
    assert answers(page) == ["The pump runs at 42 rpm"] * 3
    headers = [page.locator(f"#header-{i}").inner_text().strip() for i in range(3)]
    assert headers == ["A", "B", "C"]  # blind: no pipeline names yet
    vote(page, "Browser Judge", "C")
    revealed = [page.locator(f"#header-{i}").inner_text().strip() for i in range(3)]
    assert sorted(h.split("·")[1].strip() for h in revealed) == ["few-shot", "fine-tuned", "rag"]
    winner = revealed[2].split("·")[1].strip()
    with sqlite3.connect(ws.db_path) as db:
        rows = db.execute("SELECT judge, best, verdict, record FROM judgments").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("Browser Judge", winner, "best")]
    assert '"blind":true' in rows[0][3]
    # a second vote on the same comparison is refused and not stored
    page.locator("#vote").click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('already been judged')",
                           timeout=TIMEOUT)
    with sqlite3.connect(ws.db_path) as db:
        assert db.execute("SELECT count(*) FROM judgments").fetchone() == (1,)


def test_markup_in_answers_and_documents_is_shown_as_text(xss_app, browser):
    url, ws, payload = xss_app
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ask_and_wait(page, url, "<img src=x onerror=alert(3)>?")
    assert answers(page) == [payload] * 3
    vote(page, "<img src=x onerror=alert(4)>", "A")  # the name is user input too
    for i in range(3):
        page.locator(f"#sources-acc-{i} button").first.click()
    sources = [page.locator(f"#sources-{i} textarea").input_value() for i in range(3)]
    assert any(payload in s for s in sources)  # the RAG column shows the chunk's markup as text
    page.get_by_role("tab", name="Judgments").click()
    page.wait_for_function("() => document.querySelector('#judgments-overview textarea')?.value.includes('1 judgment')",
                           timeout=TIMEOUT)
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.locator("img[src='x']").count() == 0 and page.locator("script:has-text('alert(2)')").count() == 0
