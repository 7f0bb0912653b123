"""Evidence sentences: splitting, table flattening, ranking, and what the answer used (hand-made cases)."""

from __future__ import annotations

import pytest

from sandbox import evidence as E
from fakes import FakeEmbedder
from sandbox.records import Context, Evidence

TABLE = """Sites

| Site | Role | People |
| --- | --- | --- |
| Tampere, Finland | R&D and **finance** | 88 |
| Lisbon, Portugal | Support hub | 41 |
"""


def test_tables_become_header_cell_sentences():
    assert E.sentences(TABLE) == ["Site: Tampere, Finland; Role: R&D and finance; People: 88",
                                  "Site: Lisbon, Portugal; Role: Support hub; People: 41"]
    # a chunk that starts mid-table has no header: cells joined, nothing invented
    assert E.flatten_table(["| Oslo office | Sales | 12 |"]) == ["Oslo office, Sales, 12"]


def test_prose_bullets_and_headings():
    text = "Opening hours\n\nThe shop opens at 9:00. It closes at 17:30 on weekdays.\n- Deliveries arrive on Tuesdays only\n- Ok"
    assert E.sentences(text) == ["The shop opens at 9:00.", "It closes at 17:30 on weekdays.",
                                 "Deliveries arrive on Tuesdays only"]  # heading and 1-word item dropped


def test_lexical_scores_weight_rare_question_terms():
    candidates = ["The ferry leaves Brindle pier at dawn.", "The ferry is painted blue.", "Tickets are sold on board."]
    scores = E.lexical_scores("When does the ferry leave Brindle?", candidates)
    # asked terms: ferry (df 2), leave (df 1), brindle (df 1); idf = log(1 + 3 / (1 + df))
    import math
    idf = {"ferry": math.log(1 + 3 / 3), "leave": math.log(1 + 3 / 2), "brindle": math.log(1 + 3 / 2)}
    total = sum(idf.values())
    assert scores == pytest.approx([1.0, idf["ferry"] / total, 0.0])


def test_select_ranks_dedupes_and_keeps_sources():
    contexts = [Context(source="ferry.md", text="The ferry is painted blue. The ferry leaves Brindle pier at 06:10."),
                Context(source="pier.md", text="The ferry leaves Brindle pier at 06:10. Tickets are sold on board.")]
    chosen = E.select("When does the ferry leave Brindle pier?", contexts, FakeEmbedder(), n=2)
    assert len(chosen) == 2 and "Tickets are sold on board." not in [e.text for e in chosen]  # shares no term
    leaves = [e for e in chosen if e.text == "The ferry leaves Brindle pier at 06:10."]
    assert len(leaves) == 1 and leaves[0].source == "ferry.md"  # the repeat in pier.md is the same candidate
    assert chosen[0].score >= chosen[1].score
    assert E.select("anything", [], FakeEmbedder(), n=3) == []


def test_format_and_supporting():
    ev = [Evidence(source="a.md", text="The vault opens at 08:15."), Evidence(source="b.md", text="Keys are kept by Ilse.")]
    assert E.format_evidence(ev) == "[1] The vault opens at 08:15.\n[2] Keys are kept by Ilse."
    assert E.supporting("It opens at 08:15.", ev) == [0]
    assert E.supporting("No idea.", ev) == []
