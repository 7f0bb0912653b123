"""The Data, Advisor, Evaluate and Fine-tune tabs in headless Chromium, against the scripted fake server.

No model and no training: answers come from tests/fakeserver.py, the index uses a deterministic
embedder, and the Fine-tune tab is only asked for its preflight report.
"""

import json
from pathlib import Path

import pytest

from fakeserver import Reply

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TIMEOUT = 120_000  # generous: the first advise loads a tokenizer, and CI machines are shared
PAYLOAD = "<img src=x onerror=alert(1)>"


def value_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first.input_value()


def wait_value(page, elem_id: str, *needles: str) -> str:
    """Wait until the textbox #elem_id contains every needle; returns its value."""
    page.wait_for_function(
        """([id, needles]) => {
            const el = document.querySelector(`#${id} textarea, #${id} input`);
            return el && needles.every(n => el.value.includes(n));
        }""", arg=[elem_id, list(needles)], timeout=TIMEOUT)
    return value_of(page, elem_id)


def wait_text(page, selector: str, *needles: str) -> str:
    page.wait_for_function(
        "([sel, needles]) => { const el = document.querySelector(sel); "
        "return el && needles.every(n => el.innerText.includes(n)); }", arg=[selector, list(needles)], timeout=TIMEOUT)
    return page.locator(selector).inner_text()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def pick_dataset(page, name: str) -> None:
    page.locator("#dataset input").click()
    page.get_by_role("option", name=name, exact=True).click()


def upload(page, elem_id: str, name: str, data: bytes) -> None:
    """Upload through the real file input, with the file name the browser reports (may contain ../ or spaces)."""
    files = {"name": name, "mimeType": "text/plain", "buffer": data}
    page.locator(f"#{elem_id} input[type=file]").set_input_files(files)
    page.locator(f"#{elem_id}").get_by_text(Path(name).name[:8]).first.wait_for(timeout=TIMEOUT)  # upload finished


def guard(page) -> list[str]:
    """Collects every dialog (an alert() means injected markup ran)."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def no_injected_markup(page) -> None:
    page.wait_for_timeout(300)  # an onerror handler would fire right after the image fails to load
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("script:has-text('alert(')").count() == 0


def add_dataset(root: Path, name: str, examples: list[dict], questions: list[dict], docs: dict[str, str]) -> None:
    folder = root / "corpora" / name
    (folder / "docs").mkdir(parents=True)
    for doc, text in docs.items():
        (folder / "docs" / doc).write_text(text, encoding="utf-8")
    (folder / "examples.jsonl").write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")


def hostile_dataset(root: Path) -> None:
    """A second dataset whose examples, questions and documents carry markup, and a model name that does too."""
    add_dataset(
        root, "hostile",
        examples=[{"input": f"Ticket {i}: {PAYLOAD}", "output": f'{{"team": "billing", "note": "{PAYLOAD}"}}'}
                  for i in range(3)],
        questions=[{"id": "x1", "question": f"What is {PAYLOAD}?", "reference": f"{PAYLOAD} 7731"},
                   {"id": "x2", "question": "Which valve code is used?", "reference": "Valve 7731"}],
        docs={"valves.md": f"# Valves\n\nValve code 7731. {PAYLOAD}\n"})
    toml = root / "sandbox.toml"
    toml.write_text(toml.read_text().replace('model = "ft:fake-model"', f'model = "ft:{PAYLOAD}"'), encoding="utf-8")


# --- Data tab ------------------------------------------------------------------------------------
def test_data_tab_rejects_a_broken_file_and_accepts_questions(app_factory, browser):
    url, ws, _ = app_factory()
    folder = ws.dataset_dir("plant")
    stored = (folder / "examples.jsonl").read_bytes()
    page = browser.new_page()
    page.goto(url)
    open_tab(page, "Data")
    broken = b'{"input": "a", "output": "b"}\n{"input": "c", "output": \n{"input": "d", "output": "e"}\n'
    upload(page, "upload-examples", "../bad examples.jsonl", broken)
    page.locator("#save-uploads").click()
    log = wait_value(page, "data-log", "Error")
    assert "bad examples.jsonl:2:" in log and "nothing was saved" in log  # file name and line
    assert "../" not in log
    assert (folder / "examples.jsonl").read_bytes() == stored  # what was stored stays intact
    assert not list(folder.glob(".upload-*"))

    page.goto(url)  # a fresh form (the broken file is no longer selected)
    open_tab(page, "Data")
    question = {"id": "q-new", "question": "What colour is the valve?", "reference": "Red"}
    upload(page, "upload-questions", "more questions.jsonl", (json.dumps(question) + "\n").encode())
    upload(page, "upload-docs", "../../escape note.md", b"# Valve\n\nThe valve is red.\n")
    page.locator("#save-uploads").click()
    log = wait_value(page, "data-log", "Saved 1 question(s)", "Indexed")
    assert "Error" not in log
    ids = [json.loads(line)["id"] for line in (folder / "questions.jsonl").read_text().splitlines()]
    assert ids == ["q1", "q-new"]  # appended to what was stored
    docs = sorted(p.name for p in (folder / "docs").iterdir())
    assert docs == ["escape note.md", "pump.md"]  # the ../ is gone, the space kept
    assert not (ws.corpora_dir / "escape note.md").exists() and not (ws.root / "escape note.md").exists()

    open_tab(page, "Compare")  # the new question can be picked (the picker reflects the upload)
    page.locator("#question-picker input").click()
    page.get_by_role("option", name="q-new: What colour is the valve?").click()
    assert wait_value(page, "question", "What colour is the valve?")
    assert value_of(page, "reference") == "Red"


# --- Advisor tab ---------------------------------------------------------------------------------
def test_advisor_renders_verdict_and_reasons_as_text(app_factory, browser):
    url, _, _ = app_factory(Reply(PAYLOAD), prepare=hostile_dataset)
    page = browser.new_page()
    dialogs = guard(page)
    page.goto(url)
    open_tab(page, "Advisor")  # entering the tab advises on the selected dataset ("hostile" sorts first)
    wait_text(page, "#advise-verdict", "hostile:", "Confidence")
    pick_dataset(page, "plant")  # choosing another dataset re-advises
    verdict = wait_text(page, "#advise-verdict", "plant:", "Confidence")
    assert any(p in verdict for p in ("few-shot", "rag", "fine-tuned"))
    pick_dataset(page, "hostile")
    verdict = wait_text(page, "#advise-verdict", "hostile:", "Confidence")
    reasons = wait_text(page, "#advise-reasons", "knowledge", "format", "data-volume")
    assert "evidence" in reasons
    assert value_of(page, "advise-steps").strip()
    no_injected_markup(page)
    assert dialogs == []


# --- Evaluate tab --------------------------------------------------------------------------------
def test_evaluate_runs_a_limited_eval(app_factory, browser):
    url, ws, server = app_factory(Reply(PAYLOAD), prepare=hostile_dataset)
    page = browser.new_page()
    dialogs = guard(page)
    page.goto(url)
    assert page.locator("#dataset input").input_value() == "hostile"  # sorts first
    open_tab(page, "Evaluate")
    wait_value(page, "eval-status", "Not evaluated yet")
    page.locator("#eval-limit input").fill("1")
    page.locator("#eval-run").click()
    status = wait_value(page, "eval-status", "held-out questions scored", "This run:")
    assert status.startswith("1 held-out questions scored")
    table = wait_text(page, "#eval-table", "few-shot", "rag", "fine-tuned")
    header, *rows = [r.split("\n") for r in page.locator("#eval-table [role=row]").all_inner_texts()]
    assert header[0] == "pipeline"
    assert [r[0] for r in rows] == ["few-shot", "rag", "fine-tuned"]  # one row per pipeline
    assert all(r[2] == "1" for r in rows)  # n: one question each (an answer may be an error; that is fine)
    assert f"ft:{PAYLOAD}" in table  # the configured model name is shown as text
    asked = [m["content"] for r in server.requests for m in r.get("messages", []) if m.get("role") == "user"]
    assert any("What is" in a for a in asked) and not any("Which valve code" in a for a in asked)  # limit 1
    no_injected_markup(page)
    assert dialogs == []


# --- Fine-tune tab -------------------------------------------------------------------------------
def broken_dataset(root: Path) -> None:
    add_dataset(root, "broken", examples=[], questions=[], docs={"a.md": "# A\n\ntext\n"})
    (root / "corpora" / "broken" / "examples.jsonl").write_text(
        '{"input": "a", "output": "b"}\nnot json at all\n{"input": "c", "output": "d"}\n', encoding="utf-8")


def test_finetune_preflight_report(app_factory, browser):
    url, ws, server = app_factory(prepare=broken_dataset)
    page = browser.new_page()
    page.goto(url)
    open_tab(page, "Fine-tune")
    assert page.locator("#dataset input").input_value() == "broken"  # sorts first
    page.locator("#ft-check").click()
    report = wait_value(page, "ft-report", "line 2")
    assert "examples.jsonl" in report and ("NOT READY" in report or "Error" in report)
    pick_dataset(page, "plant")
    page.locator("#ft-check").click()
    report = wait_value(page, "ft-report", "2 valid examples", "ready to fine-tune")
    assert "tokens per example" in report and "NOT READY" not in report
    assert value_of(page, "ft-job") == ""  # nothing was started
    from sandbox.finetune.state import finetune_dir

    jobs = finetune_dir(ws.state_dir) / "jobs"
    assert not jobs.exists() or not any(jobs.iterdir())
    assert server.requests == []
