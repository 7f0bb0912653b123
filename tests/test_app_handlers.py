"""App handlers called directly, with a scripted compare stream (no server, no browser)."""

import asyncio
import json
from pathlib import Path
import random

import pytest

from sandbox.app.compare_tab import HIDDEN_SOURCES, column_view, status_view
from sandbox.app.context import AppContext
from sandbox.judging import VoteRefused
from sandbox.compare import Delta, Done
from sandbox.config import load_workspace
from sandbox.errors import ConfigError, DataError, SandboxError
from sandbox.records import Context, Evidence, RunRecord


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
                               contexts=[Context(source="a.md", text="<b>chunk</b>", score=0.9)] if p == "rag" else [],
                               evidence=EVIDENCE if p == "rag" else [])
            if store:
                store.add_run(record)
            yield Done(record)
    return stream


EVIDENCE = [Evidence(source="a.md", text="Alpha and beta are <i>letters</i>.", score=0.2),
            Evidence(source="b.md", text="Digits are not letters at all.", score=0.1)]
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


def test_rag_evidence_shows_under_the_answer_after_the_vote_with_the_used_sentence_marked(ctx):
    c, _ = run(ctx)
    i = c.order.index("rag")
    assert column_view(c, i)["evidence"] == ""  # blind: evidence would give RAG away
    ctx.cast_vote(c, judge="ann", verdict="tie")
    assert column_view(c, i)["evidence"] == ("▶ [1] Alpha and beta are <i>letters</i>.  (a.md)\n"
                                             "  [2] Digits are not letters at all.  (b.md)")  # text, not HTML
    assert column_view(c, c.order.index("few-shot"))["evidence"] == ""


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
        assert "ip" not in {row[1] for row in db.exec_driver_sql("PRAGMA table_info(judgments)")}


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


def test_auth_required_off_loopback(monkeypatch):
    from sandbox.commands.app import parse_auth

    assert parse_auth(None, "127.0.0.1") is None and parse_auth(None, "localhost") is None
    with pytest.raises(ConfigError, match="Refusing"):
        parse_auth(None, "0.0.0.0")
    assert parse_auth("u:p:w", "0.0.0.0") == [("u", "p:w")]
    monkeypatch.setenv("SANDBOX_APP_AUTH", "al:pw")
    assert parse_auth(None, "192.168.1.5") == [("al", "pw")]
    with pytest.raises(ConfigError, match="USER:PASS"):
        parse_auth("nocolon", "127.0.0.1")


def test_auth_file_gives_each_judge_a_login(tmp_path):
    from sandbox.commands.app import parse_auth

    logins = tmp_path / "judges.txt"
    logins.write_text("# team\nann:pw1\n\n bob : p:w2\n", encoding="utf-8")
    assert parse_auth(None, "0.0.0.0", logins) == [("ann", "pw1"), ("bob", " p:w2")]
    assert parse_auth("carl:pw", "127.0.0.1", logins)[0] == ("carl", "pw")
    logins.write_text("ann:pw1\nsecret-without-colon\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"judges.txt:2: .*USER:PASS") as error:
        parse_auth(None, "127.0.0.1", logins)
    assert "secret-without-colon" not in str(error.value)
    logins.write_text("ann:pw1\nann:pw2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="ann is given twice"):
        parse_auth(None, "127.0.0.1", logins)
    with pytest.raises(DataError, match="cannot read"):
        parse_auth(None, "127.0.0.1", tmp_path / "missing.txt")


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
    out = runner.invoke(app, ["--workspace", ws, "judgments", "export", "--format", "pairs", "--as-prompt", "fine-tuned",
                              "--out", str(tmp_path / "p.jsonl"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["as_prompt"] == "fine-tuned"
    for line in (tmp_path / "p.jsonl").read_text().splitlines():
        assert json.loads(line)["prompt"][-1]["role"] == "user"  # TRL conversational: the prompt is messages
    from sandbox.app.judgments_tab import export_file

    examples = [json.loads(x) for x in Path(export_file(ctx, "finetune", "d", "fine-tuned")).read_text().splitlines()]
    assert len(examples) == 1 and [m["role"] for m in examples[0]["messages"]][-2:] == ["user", "assistant"]


def test_blind_hides_every_field_that_identifies_the_pipeline(ctx):
    """Issue #19 row 10: blind mode's API returned prompt_tokens (RAG's prompt is the longest)."""
    from sandbox.app.compare_tab import answers_json

    c, _ = run(ctx)
    for record in c.records.values():
        record.prompt_tokens, record.cost_usd, record.load_s, record.model = 999, 0.5, 9.0, "ft:secret-model"
    identifying = {"pipeline", "prompt_tokens", "cost_usd", "load_s", "model", "contexts"}
    blind = answers_json(c)
    assert all(not identifying & set(a) for a in blind["answers"])
    metas = [column_view(c, i)["meta"] for i in range(3)]
    assert not [m for m in metas if "999" in m or "$" in m or "loading" in m or "ft:secret" in m]
    ctx.cast_vote(c, judge="ann", verdict="A")
    assert all(identifying <= set(a) for a in answers_json(c)["answers"] if not a["error"])
    assert "999 tokens in" in column_view(c, c.order.index("rag"))["meta"]


def test_blind_errors_do_not_name_the_model(ctx):
    from sandbox.app.compare_tab import answers_json

    c, _ = run(ctx)
    failed = c.records["fine-tuned"]
    failed.model, failed.endpoint = "ft:smollm2:valves", "tuned-endpoint"
    failed.error = "Endpoint 'tuned-endpoint' (http://x/v1, model 'ft:smollm2:valves'): HTTP 500 (after 1 attempt)."
    i = c.order.index("fine-tuned")
    shown = column_view(c, i)["answer"] + str(answers_json(c)["answers"][i]["error"])
    assert "ft:smollm2" not in shown and "tuned-endpoint" not in shown and "HTTP 500" in shown
    ctx.cast_vote(c, judge="ann", verdict="tie")
    assert "ft:smollm2:valves" in column_view(c, i)["answer"]
