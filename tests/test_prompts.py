"""Prompt files: defaults ship with the package, teams' edits are checked strictly both ways."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sandbox.errors import DataError
from sandbox.prompts import SPECS, default_prompts_dir, format_contexts, load_prompt
from sandbox.records import Context

REPO = Path(__file__).resolve().parent.parent


def override(tmp_path, name, text):
    folder = tmp_path / "prompts"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def default_text(name):
    return (default_prompts_dir() / f"{name}.yaml").read_text()


def test_repo_prompts_are_the_packaged_defaults():
    for name in SPECS:
        assert (REPO / "prompts" / f"{name}.yaml").read_text() == default_text(name), name


def test_few_shot_renders_instruction_examples_then_question():
    messages = load_prompt(None, "few_shot").render(
        {"instruction": "Answer in French.", "question": "Hello {name}?"},
        [{"input": "Good morning", "output": "Bonjour"}, {"input": "Thanks", "output": "Merci"}])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"].startswith("Answer in French.") and "format exactly" in messages[0]["content"]
    assert messages[-1]["content"] == "Hello {name}?"  # user text with braces is data, not a template
    assert messages[2]["content"] == "Bonjour"


def test_fine_tuned_is_short_and_drops_an_empty_instruction():
    prompt = load_prompt(None, "fine_tuned")
    assert prompt.render({"instruction": "", "question": "Q"}) == [{"role": "user", "content": "Q"}]
    assert prompt.render({"instruction": "Be brief.", "question": "Q"})[0] == {"role": "system", "content": "Be brief."}


def test_rag_numbers_contexts_with_sources():
    text = format_contexts([Context(source="a.md", text="first\n  line"), Context(source="b/c.md", text="second")])
    assert text == "[1] (a.md) first line\n\n[2] (b/c.md) second"
    messages = load_prompt(None, "rag").render({"instruction": "", "context": text, "question": "Q"})
    assert [m["role"] for m in messages] == ["user"]  # an empty instruction leaves no system turn
    assert messages[0]["content"].startswith("[1] (a.md) first line") and messages[0]["content"].endswith("Question: Q")


def test_workspace_prompt_wins_and_reloads_when_edited(tmp_path):
    folder = override(tmp_path, "fine_tuned", "messages:\n  - user: 'Q: {question}'\n")
    assert load_prompt(folder, "fine_tuned").render({"question": "x", "instruction": "i"}) == [{"role": "user", "content": "Q: x"}]
    (folder / "fine_tuned.yaml").write_text("messages:\n  - system: '{instruction}!'\n  - user: '{question}'\n")
    assert load_prompt(folder, "fine_tuned").render({"question": "x", "instruction": "i"})[0]["content"] == "i!"
    assert load_prompt(folder, "rag").path == default_prompts_dir() / "rag.yaml"  # other files fall back


def test_misspelled_variable_names_file_line_and_choices(tmp_path):
    folder = override(tmp_path, "rag", default_text("rag").replace("{context}", "{contexts}"))
    with pytest.raises(DataError) as err:
        load_prompt(folder, "rag")
    message = str(err.value)
    assert str(folder / "rag.yaml") in message and "{contexts}" in message and "{context}" in message
    line = err.value.line
    assert "{contexts}" in (folder / "rag.yaml").read_text().splitlines()[line - 1]


def test_required_variable_missing_is_an_error(tmp_path):
    folder = override(tmp_path, "rag", "messages:\n  - system: 'Use the docs.'\n  - user: '{question}'\n")
    with pytest.raises(DataError, match=r"never use the variable \{context\}"):
        load_prompt(folder, "rag")


@pytest.mark.parametrize("text, match", [
    ("messages:\n  - examples\n  - user: '{question'\nexample:\n  - user: '{input}'\n  - assistant: '{output}'\n", "bad braces"),
    ("messages: [\n", "invalid YAML"),
    ("hello: world\n", "messages"),
    ("messages:\n  - robot: '{question}'\n", "bad message item"),
    ("messages:\n  - user: '{question}'\n", "examples"),  # few-shot without examples
    ("messages:\n  - examples\n  - user: '{question}'\nexample:\n  - user: '{input}'\n  - assistant: '{answer}'\n", r"\{answer\}"),
])
def test_broken_few_shot_files(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        load_prompt(override(tmp_path, "few_shot", text), "few_shot")


def test_literal_braces_are_allowed(tmp_path):
    folder = override(tmp_path, "fine_tuned", "messages:\n  - system: 'Reply as {{\"answer\": ...}}'\n  - user: '{question}'\n")
    assert load_prompt(folder, "fine_tuned").render({"question": "q", "instruction": ""})[0]["content"] == 'Reply as {"answer": ...}'


def test_wheel_ships_default_prompts(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("sandbox-*.whl"))).namelist()
    for name in SPECS:
        assert f"sandbox/default_prompts/{name}.yaml" in names
