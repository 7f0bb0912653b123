"""Vote rules without an app: a comparison, the judgment a vote means, and judged-once."""

import random
import threading

import pytest

from sandbox.judging import VoteRefused, judgment_for, new_comparison, record_vote
from sandbox.records import RunRecord
from sandbox.store import Store


def answered(blind=True, seed=0):
    c = new_comparison("d", " Why? ", blind=blind, rng=random.Random(seed), question_id="q1")
    for p in c.order:
        c.records[p] = RunRecord(pipeline=p, user_input=c.question, comparison_id="cmp-1", response=p)
    return c


def test_blind_order_is_shuffled_by_the_given_rng_and_open_order_is_kept():
    assert answered(blind=False).order == ["few-shot", "rag", "fine-tuned"]
    orders = {tuple(answered(seed=s).order) for s in range(12)}
    assert len(orders) > 1 and answered(seed=5).order == answered(seed=5).order
    assert answered().question == "Why?"


def test_ranks_alone_pick_the_best_and_labels_map_to_the_shown_order():
    c = answered(seed=1)
    j = judgment_for(c, judge="ann", ranks={"A": 2, "B": 1, "C": 3}, tags={"C": ["verbose", "verbose"]})
    assert j.verdict == "best" and j.best == c.order[1] and j.ranks[c.order[0]] == 2
    assert j.tags == {c.order[2]: ["verbose"]} and j.shown_order == c.order and j.comparison_id == "cmp-1"
    assert judgment_for(c, judge="ann", verdict="All bad").verdict == "all-bad"


@pytest.mark.parametrize("vote, reason", [
    ({"judge": "ann", "verdict": "D"}, "Unknown answer"),
    ({"judge": "ann", "verdict": "A", "ratings": {"A": 6}}, "out of range"),
    ({"judge": "ann", "ranks": {"A": 1, "B": 2}}, "different place"),
])
def test_refusals_say_why(vote, reason):
    with pytest.raises(VoteRefused, match=reason):
        judgment_for(answered(), **vote)


def test_a_comparison_is_recorded_once(tmp_path):
    store, lock, c = Store(tmp_path / "s.db"), threading.Lock(), answered()
    record_vote(store, lock, c, judge="ann", verdict="tie")
    again = answered()  # a second copy of the same comparison (e.g. another browser tab)
    with pytest.raises(VoteRefused, match="already been judged"):
        record_vote(store, lock, again, judge="bob", verdict="A")
    assert [j.judge for j in store.judgments()] == ["ann"]
