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
