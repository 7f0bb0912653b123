"""App handlers called directly, with a scripted compare stream (no server, no browser)."""

import asyncio
import json
import random

import pytest

from sandbox.app.compare_tab import HIDDEN_SOURCES, column_view, status_view
from sandbox.app.context import AppContext
from sandbox.app.data_tab import safe_filename, save_documents, save_examples, save_questions, create_dataset
from sandbox.judging import VoteRefused
from sandbox.compare import Delta, Done
from sandbox.config import load_workspace
from sandbox.errors import ConfigError, DataError, SandboxError
from sandbox.records import Context, RunRecord


def scripted_stream(answers, errors=()):
    """A stand-in for sandbox.compare.stream_compare: word-by-word deltas, then Done per pipeline."""
    async def stream(workspace, question, *, dataset, pipelines, store=None, comparison_id=None, **kwargs):
        for word_index in range(3):
            for p in pipelines:
                if p not in errors:
                    yield Delta(p, answers[p].split()[word_index] + " ")
        for p in pipelines:
            record = RunRecord(pipeline=p, user_input=question, dataset=dataset, comparison_id="cmp-" + question,
                               response="" if p in errors else answers[p], error="HTTP 500 from endpoint" if p in errors else None,
                               contexts=[Context(source="a.md", text="<b>chunk</b>", score=0.9)] if p == "rag" else [])
            if store:
                store.add_run(record)
            yield Done(record)
    return stream


ANSWERS = {"few-shot": "one two three", "rag": "alpha beta gamma", "fine-tuned": "x y z"}


@pytest.fixture
def ctx(workspace_dir):
    (workspace_dir / "corpora" / "d" / "docs").mkdir(parents=True)
    return AppContext.for_workspace(load_workspace(workspace_dir), stream_compare=scripted_stream(ANSWERS, errors={"fine-tuned"}),
                                    rng=random.Random(3))


def run(ctx, question="What?", blind=True):
    c = ctx.new_comparison("d", question, blind=blind)
    states = []

    async def go():
        async for state in ctx.run_comparison(c):
            states.append((len(state.records), dict(state.texts)))
    asyncio.run(go())
    return c, states


def test_stream_fills_all_columns_and_error_stays_in_its_column(ctx):
    c, states = run(ctx)
    assert c.done and states[0][0] == 0 and states[-1][0] == 3  # streamed before finishing
    views = {p: column_view(c, i) for i, p in enumerate(c.order)}
    assert views["few-shot"]["answer"] == "one two three" and views["rag"]["answer"] == "alpha beta gamma"
    assert views["fine-tuned"]["answer"].startswith("Error: HTTP 500") and "failed" in views["fine-tuned"]["meta"]


def test_blind_hides_names_and_sources_until_vote(ctx):
    c, _ = run(ctx)
    i = c.order.index("rag")
    view = column_view(c, i)
    assert view["header"] == f"### {'ABC'[i]}" and "rag" not in view["header"] and view["sources"] == HIDDEN_SOURCES
    ctx.cast_vote(c, judge="ann", verdict="ABC"[i])
    view = column_view(c, i)
    assert view["header"].endswith("· rag") and "<b>chunk</b>" in view["sources"] and "Revealed" in status_view(c)


def test_vote_stored_with_order_ranks_ratings_tags(ctx):
    c, _ = run(ctx)
    labels = {p: "ABC"[i] for i, p in enumerate(c.order)}
    j = ctx.cast_vote(c, judge=" ann ", verdict="", ranks={labels["rag"]: 1, labels["few-shot"]: 2, labels["fine-tuned"]: 3},
                  ratings={labels["rag"]: 4}, tags={labels["fine-tuned"]: ["incomplete"]}, comment="ok")
    stored = ctx.store.judgments("d")
    assert [s.id for s in stored] == [j.id]
    s = stored[0]
    assert s.best == "rag" and s.shown_order == c.order and s.blind and s.judge == "ann"
    assert s.ratings == {"rag": 4} and s.tags == {"fine-tuned": ["incomplete"]} and set(s.run_ids) == set(ANSWERS)
    with ctx.store.connect() as db:
        assert "ip" not in {row[1] for row in db.execute("PRAGMA table_info(judgments)")}


def test_votes_refused_with_reasons(ctx):
    c, _ = run(ctx)
    with pytest.raises(VoteRefused, match="name"):
        ctx.cast_vote(c, judge="  ", verdict="A")
    with pytest.raises(VoteRefused, match="different place"):
        ctx.cast_vote(c, judge="ann", ranks={"A": 1, "B": 1, "C": 2})
    with pytest.raises(VoteRefused, match="not ranked 1"):
        ctx.cast_vote(c, judge="ann", verdict="A", ranks={"A": 2, "B": 1, "C": 3})
    with pytest.raises(VoteRefused, match="No verdict"):
        ctx.cast_vote(c, judge="ann")
    ctx.cast_vote(c, judge="ann", verdict="tie")
    with pytest.raises(VoteRefused, match="already been judged"):
        ctx.cast_vote(c, judge="bob", verdict="A")
    unfinished = ctx.new_comparison("d", "Other?", blind=True)
    with pytest.raises(VoteRefused, match="still arriving"):
        ctx.cast_vote(unfinished, judge="ann", verdict="A")
    assert len(ctx.store.judgments()) == 1


def test_empty_question_refused(ctx):
    with pytest.raises(SandboxError, match="empty"):
        ctx.new_comparison("d", "   ", blind=True)


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd", "passwd"), ("..\\..\\win.ini", "win.ini"), (".bashrc", "bashrc"),
    ("ﬁle name.md", "file name.md"), ("a<script>.md", "a_script_.md"), ("x\x00y.txt", "xy.txt"),
])
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_safe_filename_rejects_nothing_left():
    with pytest.raises(DataError):
        safe_filename("../..")


def test_bad_questions_upload_lists_every_error_and_keeps_stored_file(ctx, tmp_path):
    target = ctx.workspace.corpora_dir / "d" / "questions.jsonl"
    target.write_text('{"id": "1", "question": "kept?"}\n')
    bad = tmp_path / "new.jsonl"
    bad.write_text('{"id": "2", "question": "fine"}\nnot json\n{"id": "3"}\n')
    with pytest.raises(DataError) as info:
        save_questions(ctx, "d", str(bad))
    assert "new.jsonl:2" in str(info.value) and "new.jsonl:3" in str(info.value)
    assert target.read_text() == '{"id": "1", "question": "kept?"}\n'
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "1", "question": "again"}\n')
    with pytest.raises(DataError, match="dup.jsonl:1.*already"):
        save_questions(ctx, "d", str(dup))
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "2", "question": "new", "tags": ["t"]}\n')
    save_questions(ctx, "d", str(good))
    assert [json.loads(x)["id"] for x in target.read_text().splitlines()] == ["1", "2"]


def test_examples_upload_appends_csv_as_chat_jsonl(ctx, tmp_path):
    folder = ctx.workspace.corpora_dir / "d"
    (folder / "examples.jsonl").write_text(json.dumps({"input": "a", "output": "b"}) + "\n")
    csv = tmp_path / "more.csv"
    csv.write_text("input,output\nc,d\n")
    save_examples(ctx, "d", str(csv))
    lines = [json.loads(x) for x in (folder / "examples.jsonl").read_text().splitlines()]
    assert [m["messages"][-1]["content"] for m in lines] == ["b", "d"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": []}\n')
    with pytest.raises(DataError, match="broken.jsonl:1"):
        save_examples(ctx, "d", str(broken))
    assert len((folder / "examples.jsonl").read_text().splitlines()) == 2


def test_documents_and_new_dataset(ctx, tmp_path):
    slug = create_dataset(ctx, "My Support FAQ!")
    assert slug == "my-support-faq" and (ctx.workspace.corpora_dir / slug / "docs").is_dir()
    with pytest.raises(SandboxError, match="already exists"):
        create_dataset(ctx, "my support faq")
    upload = tmp_path / "up" / ".hidden notes.md"
    upload.parent.mkdir()
    upload.write_text("hello")
    assert save_documents(ctx, slug, [str(upload)]) == ["hidden notes.md"]
    assert (ctx.workspace.corpora_dir / slug / "docs" / "hidden notes.md").read_text() == "hello"


def test_auth_required_off_loopback(monkeypatch):
    from sandbox.commands.app import parse_auth

    assert parse_auth(None, "127.0.0.1") is None and parse_auth(None, "localhost") is None
    with pytest.raises(ConfigError, match="Refusing"):
        parse_auth(None, "0.0.0.0")
    assert parse_auth("u:p:w", "0.0.0.0") == ("u", "p:w")
    monkeypatch.setenv("SANDBOX_APP_AUTH", "al:pw")
    assert parse_auth(None, "192.168.1.5") == ("al", "pw")
    with pytest.raises(ConfigError, match="USER:PASS"):
        parse_auth("nocolon", "127.0.0.1")


def test_app_command_refuses_public_host_without_auth(workspace_dir):
    from typer.testing import CliRunner

    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(workspace_dir), "app", "--host", "0.0.0.0"])
    assert result.exit_code != 0 and "Refusing" in str(result.exception)


def test_judgments_cli_summary_and_export(ctx, tmp_path):
    from typer.testing import CliRunner

    from sandbox.cli import app

    c, _ = run(ctx)
    ctx.cast_vote(c, judge="ann", verdict="A")
    runner = CliRunner()
    ws = str(ctx.workspace.root)
    out = runner.invoke(app, ["--workspace", ws, "judgments", "summary", "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["judgments"] == 1 and {r["pipeline"]: r["wins"] for r in summary["win_rates"]}[c.order[0]] == 1
    target = tmp_path / "j.csv"
    out = runner.invoke(app, ["--workspace", ws, "judgments", "export", "--format", "csv", "--out", str(target), "-d", "d"])
    assert out.exit_code == 0 and "Wrote 1 rows" in out.output and target.is_file()
