"""The Compare tab in headless Chromium while the dataset's fine-tune is still training: the
fine-tuned column shows the job's progress, then (job succeeded, no restart) answers. The job is
scripted on the loopback fake endpoint; the verdict line above the columns links to the Advisor."""

import pytest

from fakeserver import fake_job, step_event

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TIMEOUT = 90_000  # generous: the shared CI box may be busy; nothing here waits on purpose


def _without_fine_tuned_model(root):
    toml = root / "sandbox.toml"
    toml.write_text(toml.read_text().replace('model = "ft:fake-model"\n', ""))


def _ask(page, question):
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('All answers are in')",
                           timeout=TIMEOUT)
    return [page.locator(f"#answer-{i} textarea").input_value() for i in range(3)]


def test_fine_tuned_column_shows_progress_then_answers(app_factory, browser):
    url, ws, server = app_factory(prepare=_without_fine_tuned_model)
    server.jobs.append(fake_job("ftjob-demo", "running", metadata={"dataset": "plant"}))
    server.job_events["ftjob-demo"] = [step_event(3, 12, 200.0)]
    page = browser.new_page()
    page.goto(url)
    page.wait_for_function("() => document.querySelector('#ft-state textarea')?.value.includes('step 3 of 12')",
                           timeout=TIMEOUT)
    assert "about 3 min left" in page.locator("#ft-state textarea").input_value()
    assert not page.locator("#train-now").is_visible()  # a job is under way: nothing to start
    page.wait_for_function("() => document.querySelector('#verdict-line textarea')?.value.startsWith('Verdict for plant:')",
                           timeout=TIMEOUT)

    answers = _ask(page, "How fast does the pump run?")
    assert answers[:2] == ["The pump runs at 42 rpm"] * 2 and answers[2] == ""
    assert "not ready yet" in page.locator("#header-2").inner_text()

    server.job_events["ftjob-demo"].append(step_event(12, 12, 0.0))
    server.jobs[0].update(status="succeeded", fine_tuned_model="ft:fake-model:plant:demo")
    page.wait_for_function("() => { const box = document.querySelector('#ft-state textarea'); "
                           "return !box || box.offsetParent === null; }", timeout=TIMEOUT)  # hidden once registered
    _ask(page, "How fast does the pump run?")
    page.wait_for_function("() => [0, 1, 2].every(i => document.querySelector(`#answer-${i} textarea`)?.value.length > 0) "
                           "&& document.querySelector('#status')?.innerText.includes('All answers are in')", timeout=TIMEOUT)
    answers = [page.locator(f"#answer-{i} textarea").input_value() for i in range(3)]
    assert answers == ["The pump runs at 42 rpm"] * 3
    assert any(r.get("model") == "ft:fake-model:plant:demo" for r in server.requests)

    page.locator("#verdict-advisor").click()
    page.wait_for_function("() => document.querySelector('#advise-verdict')?.innerText.includes('plant')", timeout=TIMEOUT)


def test_user_dataset_offers_train_now_with_the_preflight_verdict(app_factory, browser):
    url, ws, server = app_factory(prepare=_without_fine_tuned_model)
    page = browser.new_page()
    page.goto(url)
    page.wait_for_function("() => document.querySelector('#ft-state textarea')?.value.includes('below the 50 minimum')",
                           timeout=TIMEOUT)
    page.locator("#train-now").click()
    page.wait_for_function("() => document.querySelector('#ft-state textarea')?.value.includes('queued')", timeout=TIMEOUT)
    assert [j["metadata"] for j in server.jobs] == [{"dataset": "plant"}]
