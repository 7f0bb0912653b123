"""Judgment statistics on hand-made judgments whose answers are known in closed form."""

import math

import pytest

from sandbox.judgment_stats import (agreement, bradley_terry, fleiss_kappa, judgments_needed, pairwise, position_bias,
                                    question_key, summarize, wilson, win_rates)
from sandbox.records import Judgment

ORDER = ["few-shot", "rag", "fine-tuned"]


def J(best=None, ranks=None, verdict="best", judge="ann", qid="q1", dataset="d", cid="c"):
    return Judgment(comparison_id=cid, run_ids={}, shown_order=ORDER, verdict=verdict, best=best,
                    ranks=ranks or {}, judge=judge, question_id=qid, dataset=dataset)


def test_wilson_matches_textbook_values():
    lo, hi = wilson(8, 10)  # Wilson 95% for 8/10 is 0.490–0.943
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def test_win_rates_count_ties_as_shown_not_won():
    rows = {r["pipeline"]: r for r in win_rates([J("rag"), J("rag"), J(verdict="tie"), J("few-shot")])}
    assert rows["rag"]["wins"] == 2 and rows["rag"]["judgments"] == 4 and rows["rag"]["win_rate"] == 0.5
    assert rows["fine-tuned"]["wins"] == 0
    assert rows["rag"]["ci_low"] < 0.5 < rows["rag"]["ci_high"]


def test_many_judges_on_the_same_comparisons_are_not_independent_evidence():
    # 30 judges agree on each of 20 comparisons: rag wins 12 of them. Wilson over 600 votes would claim
    # 60% ± 4%; the comparisons are the evidence (20 of them), so the interval is about five times wider
    votes = [J("rag" if c < 12 else "few-shot", judge=f"j{k}", cid=f"c{c}") for c in range(20) for k in range(30)]
    rag = {r["pipeline"]: r for r in win_rates(votes)}["rag"]
    assert rag["win_rate"] == 0.6 and rag["judgments"] == 600
    naive_low, naive_high = wilson(360, 600)
    assert rag["ci_high"] - rag["ci_low"] > 3 * (naive_high - naive_low)
    assert rag["ci_low"] < 0.5  # 12 of 20 items does not show rag better than a coin
    one_each = {r["pipeline"]: r for r in win_rates([J("rag", cid=f"c{c}") for c in range(20)])}["rag"]
    assert (one_each["ci_low"], one_each["ci_high"]) == wilson(20, 20)  # one judge per comparison: Wilson


def test_pairs_from_ranks_pick_and_tie():
    assert pairwise(J(ranks={"rag": 1, "few-shot": 2, "fine-tuned": 3})) == [
        ("rag", "few-shot", 1.0), ("rag", "fine-tuned", 1.0), ("few-shot", "fine-tuned", 1.0)]
    assert sorted(pairwise(J("rag"))) == [("rag", "few-shot", 1.0), ("rag", "fine-tuned", 1.0)]
    assert all(s == 0.5 for *_, s in pairwise(J(verdict="tie")))
    assert pairwise(J(verdict="all-bad")) == []


def test_bradley_terry_mle_two_players():
    # a beats b 3 times of 4: the MLE strength ratio is 3:1
    js = [J(ranks={"rag": 1, "few-shot": 2, "fine-tuned": 3})] * 3 + [J(ranks={"few-shot": 1, "rag": 2, "fine-tuned": 3})]
    bt = bradley_terry(js, prior=0)
    assert bt["rag"] / bt["few-shot"] == pytest.approx(3.0, rel=1e-4)
    assert sum(bt.values()) == pytest.approx(1.0)


def test_bradley_terry_prior_keeps_strengths_finite():
    bt = bradley_terry([J(ranks={"rag": 1, "few-shot": 2, "fine-tuned": 3})])
    assert all(v > 0 for v in bt.values()) and bt["rag"] > bt["few-shot"] > bt["fine-tuned"]


def test_agreement_observed_and_kappa():
    js = [J("rag", judge="a", qid="1"), J("rag", judge="b", qid="1"),
          J("rag", judge="a", qid="2"), J("few-shot", judge="b", qid="2"),
          J("rag", judge="a", qid="3")]  # judged once: not counted
    result = agreement(js)
    assert result["questions"] == 2 and result["pairs"] == 2 and result["agreement"] == 0.5
    # pooled choices: rag 3/4, few-shot 1/4 -> chance 0.625; kappa = (0.5-0.625)/(1-0.625)
    assert result["kappa"] == pytest.approx(-1 / 3)


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories -> P = 0.378, Pe = 0.213, kappa 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    result = fleiss_kappa([dict(zip("abcde", row)) for row in table])
    assert result["items"] == 10
    assert result["agreement"] == pytest.approx(0.378, abs=1e-3) and result["chance"] == pytest.approx(0.213, abs=1e-3)
    assert result["kappa"] == pytest.approx(0.210, abs=1e-3)


def test_agreement_and_kappa_on_identical_answers_by_hand():
    """Three judges on three comparisons (keyed by comparison id, not question):
    c1 rag/rag/rag -> 1; c2 rag/few-shot/rag -> 1/3; c3 tie/few-shot/few-shot -> 1/3; mean 5/9.
    Pooled: rag 5, few-shot 3, tie 1 of 9 -> chance 35/81; kappa = (5/9 - 35/81) / (1 - 35/81) = 5/23."""
    votes = {"c1": ["rag", "rag", "rag"], "c2": ["rag", "few-shot", "rag"], "c3": ["tie", "few-shot", "few-shot"]}
    js = [J(None if pick == "tie" else pick, verdict="tie" if pick == "tie" else "best", judge=judge, qid="same")
          .model_copy(update={"comparison_id": cid}) for cid, picks in votes.items() for judge, pick in zip("xyz", picks)]
    result = agreement(js, key=lambda j: j.comparison_id)
    assert result["questions"] == 3 and result["pairs"] == 9
    assert result["agreement"] == pytest.approx(5 / 9) and result["kappa"] == pytest.approx(5 / 23)
    assert agreement(js)["questions"] == 1  # by question they would all be one item


def test_position_bias_compares_left_picks_with_the_shuffle():
    orders = [ORDER, ORDER[1:] + ORDER[:1], ORDER[2:] + ORDER[:2]] * 4  # each pipeline left 4 times of 12
    lefty = [J(order[0], judge="lefty").model_copy(update={"shown_order": order}) for order in orders]
    steady = [J("rag", judge="steady").model_copy(update={"shown_order": order}) for order in orders]
    bias = position_bias(lefty + steady + [J(verdict="tie", judge="tied")])
    assert bias["lefty"]["left"] == 12 and bias["lefty"]["biased"] and bias["lefty"]["expected"] == pytest.approx(1 / 3)
    assert bias["steady"]["share"] == pytest.approx(1 / 3) and not bias["steady"]["biased"]
    assert "tied" not in bias


def test_judgments_needed_formula():
    # rag beats few-shot in 6 of 10 head-to-heads: n* = 1.96^2 * .24 / .01 = 92.2 -> 93 -> 83 more
    js = [J("rag")] * 6 + [J("few-shot")] * 4
    sep = judgments_needed(js, top=["rag", "few-shot"])
    assert sep["head_to_head"] == 10 and sep["share"] == 0.6
    assert sep["needed_total"] == math.ceil(1.959963984540054**2 * 0.24 / 0.01) and sep["more"] == 83


def test_judgments_needed_undefined_cases():
    assert judgments_needed([])["more"] is None
    assert judgments_needed([J("rag"), J("few-shot")], top=["rag", "few-shot"])["more"] is None  # 50:50


def test_summary_breaks_down_by_question_tag_and_judge():
    js = [J("rag", judge="a", qid="1"), J("few-shot", judge="b", qid="2")]
    summary = summarize(js, {("d", "1"): ["facts"], ("d", "2"): ["format"]})
    assert {r["pipeline"]: r["wins"] for r in summary["by_question_tag"]["facts"]}["rag"] == 1
    assert {r["pipeline"]: r["wins"] for r in summary["by_judge"]["b"]}["few-shot"] == 1
    assert summary["judgments"] == 2 and summary["judges"] == ["a", "b"]


def test_same_question_ignores_case_punctuation_and_spacing():
    def judged(text):
        return Judgment(comparison_id="c", dataset="d", user_input=text, run_ids={}, shown_order=[])

    assert question_key(judged("What is  the fee?")) == question_key(judged("what is the fee")) == ("d", "what is the fee")
    assert question_key(judged("What is the fee?")) != question_key(judged("What is the rate?"))
