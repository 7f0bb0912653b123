"""Each metric on hand-made cases with known answers."""

from __future__ import annotations

import math

import pytest

from sandbox import metrics as M


def test_exact_match_normalises_case_punctuation_articles():
    assert M.exact_match("The Answer is 42.", "answer is 42") == 1.0
    assert M.exact_match("42", "43") == 0.0


def test_token_f1_known_values():
    assert M.token_f1("the cat sat", "cat sat down") == pytest.approx(0.8)  # p=2/2, r=2/3
    assert M.token_f1("dog", "cat") == 0.0
    assert M.token_f1("", "") == 1.0 and M.token_f1("", "x") == 0.0


def test_json_validity_and_fences():
    assert M.json_valid('{"a": 1}') == 1.0
    assert M.json_valid('```json\n{"a": 1}\n```') == 1.0
    assert M.json_valid('Here it is: {"a": 1}') == 0.0  # a parser downstream would reject this
    assert M.json_valid("{'a': 1}") == 0.0


def test_json_agreement_keys_and_enum_values():
    ref = '{"status": "closed", "aog": false, "ata": "34", "position": "left"}'
    got = '{"status": "Closed", "aog": true, "ata": "34"}'
    assert M.json_agreement(got, ref) == {"json_valid": 1.0, "json_keys": 0.75, "json_values": 0.5}
    assert M.json_agreement("not json", ref) == {"json_valid": 0.0, "json_keys": 0.0, "json_values": 0.0}
    assert M.json_agreement('{"a": 1}', "plain prose") is None


def test_context_support_counts_answer_terms_found_in_contexts():
    contexts = ["The QV-7 valve is rated for 340 bar.", "Service every 18 months."]
    assert M.context_support("QV-7 is rated 340 bar", contexts) == 1.0
    assert M.context_support("QV-7 is rated 900 bar by Zeus", contexts) == pytest.approx(3 / 5)  # qv-7 rated bar of qv-7 rated 900 bar zeus
    assert M.context_support("anything", []) is None


def test_cites_by_name_or_number():
    sources = ["policies/leave.md", "faq.html"]
    assert M.cites("See [2] for details.", sources) == 1.0
    assert M.cites("As leave.md says, 25 days.", sources) == 1.0
    assert M.cites("Per [7], yes.", sources) == 0.0
    assert M.cites("No citation.", sources) == 0.0
    assert M.cites("x", []) is None


def test_hit_at_k():
    assert M.hit_at_k("leave.md", ["policies/leave.md", "faq.md"]) == 1.0
    assert M.hit_at_k("policies/leave.md", ["policies/leave.md"]) == 1.0
    assert M.hit_at_k("other/leave.md", ["policies/leave.md"]) == 0.0
    assert M.hit_at_k(None, ["a.md"]) is None and M.hit_at_k("a.md", []) is None


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    mean, low, high = M.bootstrap_ci(values, seed=1)
    assert mean == 0.7 and low < mean < high and 0 <= low and high <= 1
    assert M.bootstrap_ci(values, seed=1) == (mean, low, high)
    assert M.bootstrap_ci([0.5]) == (0.5, 0.5, 0.5)
    assert all(math.isnan(x) for x in M.bootstrap_ci([]))
    narrow = M.bootstrap_ci(values * 20, seed=1)
    assert narrow[2] - narrow[1] < high - low  # more data, tighter interval


# facts ---------------------------------------------------------------------------------------
def test_fact_terms_normalisation():
    # case, accents, punctuation, thousands separators, number words, leading/trailing zeros, plurals
    assert M.fact_terms("The Café's 1,000 Warranties, three 08:00 shifts; 2.50 m / 3.0 kg") == [
        "cafe", "1000", "warranty", "3", "8", "0", "shift", "2.5", "3", "kg"]
    assert M.fact_terms("1 000 and 1\u00a0000 and 1'000") == ["1", "0", "1000", "1000"]  # a plain space is not a separator
    assert M.fact_terms("3,5 or 10, 200") == ["3", "5", "10", "200"]  # not thousands
    assert M.fact_terms("TS3-EU868 v2.4.0") == ["ts3", "eu868", "v2", "4"]
    assert M.fact_terms("calibrate calibration") == ["calibrate", "calibration"]  # no aggressive stemming


def test_fact_recall_hand_computed():
    ref = "The kiln fires at 1,280 degrees for nine hours."  # kiln fire 1280 degree 9 hour -> 6 terms
    assert M.fact_recall("It fires at 1280 degrees.", ref) == pytest.approx(3 / 6)  # fire 1280 degree
    assert M.fact_recall("Nine hours at 1 280 degrees", ref) == pytest.approx(3 / 6)  # 9 hour degree; "1 280" is two numbers
    assert M.fact_recall("KILNS fire at 1280 DEGREES for 9 hours", ref) == 1.0
    assert M.fact_recall("no idea", ref) == 0.0
    assert M.fact_recall("anything", "the of and") is None  # nothing to recall


def test_key_terms_numbers_first_then_names_minus_the_question():
    q = "How many people work at the Lisbon office?"
    assert M.key_terms("41 people work in Lisbon (headcount on 30 September 2025).", q) == {"41", "30", "2025"}
    # no numbers: names that do not start a sentence, and acronyms, minus those in the question
    assert M.key_terms("Ask Marta Okafor. The SLA team decides.", "Who decides?") == {"marta", "okafor", "sla"}
    assert M.key_terms("Escalate to Marta.", "Should I escalate to Marta?") == set()  # nothing beyond the question
    assert M.key_terms("Codes like QX7 count as numbers, Bob does not.", "") == {"qx7"}


def test_key_fact_one_per_answer():
    ref, q = "The north gate opens at 6:45 and closes at 21:30.", "When does the north gate open?"
    assert M.key_fact("At 6:45.", ref, q) == 1.0
    assert M.key_fact("It opens early in the morning at the north gate.", ref, q) == 0.0
    assert M.key_fact("Whenever.", "Ask reception.", "Who knows?") is None  # no number or name: not applicable


def test_unseen_pairs_rank_right_answers_above_wrong_ones():
    """Q/A pairs written for this test (a topic used nowhere else): the right answer must beat a fluent wrong one."""
    pairs = [
        ("What is the maximum load of the Brask footbridge?", "The Brask footbridge carries at most 4,500 kg (45 people).",
         "The Brask footbridge can carry 4500 kilograms.", "The Brask footbridge is strong and carries many people safely."),
        ("Which volcano erupted on Isla Tenebra in 1911?", "Monte Gris erupted in May 1911, burying the port of Calvera.",
         "It was Monte Gris, and Calvera was buried.", "A large volcano on the island erupted that year."),
        ("How long do oolong leaves steep at the Kestrel tea house?", "Oolong steeps for three minutes at 90 °C.",
         "3 minutes, water at 90 degrees.", "Oolong leaves steep for a while in hot water."),
    ]
    recall = [(M.fact_recall(right, ref), M.fact_recall(wrong, ref)) for _, ref, right, wrong in pairs]
    assert all(r >= w for r, w in recall) and sum(r > w for r, w in recall) >= 2
    # The footbridge pair ties at 4/7: the wrong answer echoes "carries ... people" and the right one says
    # "kilograms" for "kg". Word overlap cannot see units; key_fact (the number) is what separates them.
    assert recall[0] == (pytest.approx(4 / 7), pytest.approx(4 / 7))
    for question, ref, right, wrong in pairs:
        assert M.key_fact(right, ref, question) == 1.0 and M.key_fact(wrong, ref, question) == 0.0, question


def test_primary_metric_follows_the_reference_shape():
    assert M.primary_metric(['{"a": 1}', '{"a": 2}', "prose"])[0] == "json_values"
    assert M.primary_metric(["billing", "technical support", "account"])[0] == "exact_match"
    name, why = M.primary_metric(["The pump runs at 40 bar.", "Service it every 18 months, or sooner."])
    assert name == "fact_recall" and "similarity" in why
    assert M.primary_metric([None, ""]) == ("", "no references to score against")


def test_one_number_spelling_for_facts_and_signals():
    from sandbox.signals import canonical
    from sandbox.text import number

    assert [number(t) for t in ("08", "2.50", "3.0", "007.500", "12a", "1e5")] == ["8", "2.5", "3", "7.5", None, None]
    assert canonical("15.60") == canonical("15.6") == "15.6" and canonical("08") == "8" and canonical("pump") == "pump"
