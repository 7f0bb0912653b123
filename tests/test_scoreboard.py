"""The scoreboard's winner rule (a measurable lead decides; ties go to the framework's verdict, else the
cheaper) and `eval --all` / `scoreboard --json` over real evals against a scripted loopback endpoint."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sandbox.scoreboard import Entry, decide, markdown
from test_evaluate import fake, make_workspace, ws  # noqa: F401 - fixtures


def entry(pipeline: str, mean: float, low: float, high: float, tokens: float = 100.0, cost: float = 0.0,
          scores: dict | None = None) -> Entry:
    return Entry(pipeline=pipeline, n=20, errors=0, mean=mean, low=low, high=high, prompt_tokens=tokens,
                 completion_tokens=10.0, cost_usd=cost, scores=scores or {})


def test_separated_intervals_give_a_clear_winner():
    d = decide([entry("few-shot", 0.10, 0.0, 0.2), entry("rag", 0.50, 0.4, 0.6), entry("fine-tuned", 0.15, 0.1, 0.2)])
    assert (d.winner, d.tied, d.leader, d.decided_by) == ("rag", [], "rag", "measured")
    assert [g.other for g in d.gaps] == ["fine-tuned", "few-shot"] and all(g.separated and not g.pairs for g in d.gaps)


def test_overlap_is_a_tie_that_a_trained_pipeline_loses():
    # fine-tuned leads on the mean, but few-shot's interval overlaps: no training run wins the tie
    d = decide([entry("few-shot", 0.50, 0.40, 0.62, tokens=400), entry("fine-tuned", 0.55, 0.45, 0.65, tokens=40),
                entry("rag", 0.20, 0.10, 0.30)])
    assert (d.winner, d.tied, d.leader, d.decided_by) == ("few-shot", ["few-shot", "fine-tuned"], "fine-tuned", "cheaper")


def test_a_tie_goes_to_the_framework_verdict_when_it_is_tied():
    tie = [entry("few-shot", 0.50, 0.40, 0.62, tokens=400), entry("fine-tuned", 0.55, 0.45, 0.65, tokens=40)]
    d = decide(tie, verdict=lambda: ["fine-tuned"])
    assert (d.winner, d.decided_by) == ("fine-tuned", "framework verdict")
    assert decide(tie, verdict=lambda: ["rag"]).winner == "few-shot"  # the verdict is not among the tied: cheaper
    asked = []
    decide([entry("rag", 0.9, 0.85, 0.95), entry("few-shot", 0.1, 0.05, 0.15)], verdict=lambda: asked.append(1) or [])
    assert not asked  # no tie: the advisor is not run


def test_paired_scores_separate_what_overlapping_intervals_cannot():
    # per question, fine-tuned is 0.06 ahead on 40 of 60 questions and level on the rest: the pipelines' own
    # intervals overlap (question difficulty varies a lot), but the paired difference is clearly above 0
    import random
    rng = random.Random(7)
    base = {f"q{i}": rng.choice([0.2, 0.5, 0.8, 1.0]) for i in range(60)}
    tuned = {q: min(1.0, v + (0.06 if i % 3 else 0.0)) for i, (q, v) in enumerate(base.items())}
    few = entry("few-shot", 0.62, 0.55, 0.69, scores=base)
    ft = entry("fine-tuned", 0.66, 0.59, 0.73, scores=tuned)
    assert decide([few, ft]).winner == "fine-tuned" and decide([few, ft]).decided_by == "measured"
    (gap,) = decide([few, ft]).gaps
    assert gap.pairs == 60 and gap.low > 0 and "paired over 60 questions" in gap.text()
    unpaired = decide([few.model_copy(update={"scores": {}}), ft.model_copy(update={"scores": {}})])
    assert unpaired.tied == ["few-shot", "fine-tuned"] and unpaired.gaps[0].pairs == 0


def test_among_untrained_ties_cost_then_tokens_decide():
    assert decide([entry("few-shot", 0.5, 0.4, 0.6, tokens=300), entry("rag", 0.52, 0.41, 0.63, tokens=200)]).winner == "rag"
    assert decide([entry("few-shot", 0.5, 0.4, 0.6, cost=0.001), entry("rag", 0.52, 0.41, 0.63, cost=0.002)]).winner == "few-shot"


def test_nothing_measured_has_no_winner():
    assert decide([Entry(pipeline="rag", n=0, errors=0)]) == (None, [], None, [], "")


def test_eval_all_then_scoreboard_json(ws, fake):  # noqa: F811
    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "eval", "--all", "--json", "--limit", "2"])
    assert result.exit_code == 0, result.output
    boards = json.loads(result.output)
    assert [b["dataset"] for b in boards] == ["valves"]
    board = boards[0]
    assert board["metric"] and board["questions"] == 2 and board["winner"] in ("few-shot", "rag", "fine-tuned")
    assert {e["pipeline"]: e["n"] for e in board["entries"]} == {"few-shot": 2, "rag": 2, "fine-tuned": 2}
    ran = len(fake.requests)
    again = CliRunner().invoke(app, ["--workspace", str(ws.root), "scoreboard", "--json"])
    assert json.loads(again.output) == boards and len(fake.requests) == ran  # reads stored evals, calls nothing
    table = CliRunner().invoke(app, ["--workspace", str(ws.root), "scoreboard"])
    assert "valves" in table.output and "Winner:" in table.output


def test_markdown_table_has_a_row_per_pipeline(ws, fake):  # noqa: F811
    from fakes import FakeEmbedder
    from sandbox.evaluate import run_eval
    from sandbox.scoreboard import scoreboard

    run_eval(ws, "valves", limit=1, embedder=FakeEmbedder())
    text = markdown(scoreboard(ws))
    assert text.count("| valves |") == 3 and "mean [95% CI]" in text


def test_advisor_tab_shows_the_scoreboard(ws, fake):  # noqa: F811
    from sandbox.app.advisor_tab import scoreboard_rows
    from sandbox.app.context import AppContext
    from fakes import FakeEmbedder
    from sandbox.evaluate import run_eval

    ctx = AppContext.for_workspace(ws)
    assert [r[4] for r in scoreboard_rows(ctx)] == ["—"] * 3  # nothing measured yet
    run_eval(ws, "valves", limit=2, embedder=FakeEmbedder(), store=ctx.store)
    rows = scoreboard_rows(ctx)
    assert [r[2] for r in rows] == ["few-shot", "rag", "fine-tuned"] and all("[" in r[4] for r in rows)
    assert sum(bool(r[8]) for r in rows) == 1  # one row names the winner


def test_a_resumed_eval_retries_failed_answers(ws, fake):  # noqa: F811
    from fakes import FakeEmbedder
    from fakeserver import Reply
    from sandbox.evaluate import run_eval
    from test_evaluate import scripted

    script = fake.script
    fake.script = lambda body: Reply(status=500)
    first = run_eval(ws, "valves", limit=2, pipelines=["few-shot"], embedder=FakeEmbedder())
    assert first.pipelines["few-shot"].errors == 2
    fake.script = script
    again = run_eval(ws, "valves", limit=2, pipelines=["few-shot"], embedder=FakeEmbedder())
    assert again.ran == 2 and again.pipelines["few-shot"].errors == 0 and again.pipelines["few-shot"].n == 2
    assert run_eval(ws, "valves", limit=2, pipelines=["few-shot"], embedder=FakeEmbedder()).ran == 0


def test_scoreboard_markdown_flag(ws, fake):  # noqa: F811
    from fakes import FakeEmbedder
    from sandbox.cli import app
    from sandbox.evaluate import run_eval

    run_eval(ws, "valves", limit=1, embedder=FakeEmbedder())
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "scoreboard", "--markdown"])
    assert result.exit_code == 0 and result.output.startswith("| dataset |") and result.output.count("| valves |") == 3
