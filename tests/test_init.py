"""`sandbox init`: a usable workspace for a team's own data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.config import Settings, load_workspace
from fakes import FakeEmbedder
from sandbox.errors import ConfigError, DataError
from sandbox.index import Retriever, build_index
from sandbox.init import create_workspace


@pytest.fixture
def team_files(tmp_path: Path) -> dict[str, Path]:
    docs = tmp_path / "team-docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "policies" / "expenses.md").write_text("# Expenses\n\nReceipts are due within 30 days.", encoding="utf-8")
    (docs / "faq.txt").write_text("The office opens at 8am.", encoding="utf-8")
    examples = tmp_path / "pairs.jsonl"
    examples.write_text(
        "\n".join(json.dumps({"input": f"Question {i}?", "output": f"Answer {i}."}) for i in range(3)) + "\n", encoding="utf-8"
    )
    questions = tmp_path / "held-out.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "When are receipts due?", "source": "policies/expenses.md"}) + "\n")
    return {"docs": docs, "examples": examples, "questions": questions}


def test_init_creates_a_usable_workspace(tmp_path, team_files):
    root = tmp_path / "Acme Workspace"
    result = CliRunner().invoke(
        app,
        ["init", str(root), "--docs", str(team_files["docs"]), "--examples", str(team_files["examples"]),
         "--questions", str(team_files["questions"])],
    )
    assert result.exit_code == 0, result.output
    assert "Next steps" in result.stdout and "sandbox index acme-workspace" in result.stdout

    dataset = root / "corpora" / "acme-workspace"
    assert (dataset / "docs" / "policies" / "expenses.md").is_file() and not (dataset / "docs").is_symlink()
    assert (dataset / "examples.jsonl").read_text() == team_files["examples"].read_text()
    assert (dataset / "questions.jsonl").is_file()

    text = (root / "sandbox.toml").read_text()
    for section in ("[endpoints.local]", "[endpoints.openai]", "[pipelines.rag]", "[index]", "[server]", "[eval]", "[advisor]", "[datasets."):
        assert section in text, section
    assert 'api_key_env = "OPENAI_API_KEY"' in text and "chroma_url" in text
    ws = load_workspace(root)
    assert ws.settings.model_dump() == Settings().model_dump(), "commented-out values are the defaults"
    assert ws.datasets() == ["acme-workspace"]

    try:
        from sandbox.prompts import default_prompts_dir
    except ImportError:
        default_prompts_dir = None
    if default_prompts_dir is not None and default_prompts_dir().is_dir():
        shipped = sorted(p.name for p in default_prompts_dir().glob("*.yaml"))
        assert sorted(p.name for p in (root / "prompts").glob("*.yaml")) == shipped

    report = build_index(ws, "acme-workspace", embedder=FakeEmbedder())
    assert report.documents == 2 and report.chunks_total >= 2
    hit = Retriever(ws, "acme-workspace", embedder=FakeEmbedder()).search("receipts due", k=1)[0]
    assert hit.source == "policies/expenses.md"


def test_init_refuses_to_overwrite_without_force(tmp_path, team_files):
    root = tmp_path / "ws"
    create_workspace(root, team_files["docs"], name="kb")
    (root / "sandbox.toml").write_text("# my edits\n")
    with pytest.raises(ConfigError) as err:
        create_workspace(root, team_files["docs"], name="kb")
    assert "--force" in str(err.value)
    assert (root / "sandbox.toml").read_text() == "# my edits\n"

    result = CliRunner().invoke(app, ["init", str(root), "--docs", str(team_files["docs"]), "--name", "kb"])
    assert result.exit_code != 0

    create_workspace(root, team_files["docs"], name="kb", force=True)
    assert "[endpoints.local]" in (root / "sandbox.toml").read_text()


def test_init_link_and_force_never_touch_the_originals(tmp_path, team_files):
    root = tmp_path / "ws"
    report = create_workspace(root, team_files["docs"], name="kb", link=True)
    docs = root / "corpora" / "kb" / "docs"
    assert report.linked and docs.is_symlink() and docs.resolve() == team_files["docs"].resolve()
    assert report.documents == 2

    create_workspace(root, team_files["docs"], name="kb", force=True)  # replaces the link with a copy
    assert not docs.is_symlink() and (docs / "faq.txt").is_file()
    assert (team_files["docs"] / "faq.txt").is_file(), "the linked originals survive --force"


def test_init_with_a_single_file_and_no_docs(tmp_path, team_files):
    one = create_workspace(tmp_path / "one", team_files["docs"] / "faq.txt", name="faq")
    assert one.documents == 1 and (tmp_path / "one" / "corpora" / "faq" / "docs" / "faq.txt").is_file()
    empty = create_workspace(tmp_path / "empty")
    assert empty.documents == 0 and any("put your documents" in s for s in empty.next_steps)


def test_init_validates_inputs_before_writing_anything(tmp_path, team_files):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "a", "output": "b"}\n{not json\n')
    root = tmp_path / "ws"
    with pytest.raises(DataError) as err:
        create_workspace(root, team_files["docs"], examples=bad)
    assert err.value.path == str(bad) and err.value.line == 2
    assert not root.exists() or not any(root.iterdir())

    with pytest.raises(DataError) as err:
        create_workspace(root, tmp_path / "nope")
    assert "nope" in str(err.value)


def test_init_csv_examples_keep_their_format(tmp_path, team_files):
    csv = tmp_path / "pairs.csv"
    csv.write_text("input,output\nhello,world\nfoo,bar\n")
    create_workspace(tmp_path / "ws", team_files["docs"], examples=csv, name="kb")
    assert (tmp_path / "ws" / "corpora" / "kb" / "examples.csv").read_text() == csv.read_text()
