"""Dataset files: every accepted format loads; every broken file names the line and the fix."""

from __future__ import annotations

import json

import pytest

from sandbox.errors import DataError
from sandbox.examples import load_examples, shared_system, validate_examples
from sandbox.questions import load_questions, validate_questions


def write(path, lines):
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n", encoding="utf-8")
    return path


def chat(user, answer, system="Reply tersely."):
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]}


def test_chat_jsonl_takes_last_turns_and_shared_system(tmp_path):
    multi = {"messages": [{"role": "system", "content": "Reply tersely."}, {"role": "user", "content": "a"},
                          {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
                          {"role": "assistant", "content": "d"}]}
    path = write(tmp_path / "ex.jsonl", [chat("hi", "yo"), "", multi])
    examples = load_examples(path)
    assert [(e.input, e.output, e.line) for e in examples] == [("hi", "yo", 1), ("c", "d", 3)]
    assert shared_system(examples) == "Reply tersely."
    examples.append(load_examples(write(tmp_path / "other.jsonl", [chat("x", "y", system="Other.")]))[0])
    assert shared_system(examples) == ""


def test_input_output_jsonl_and_csv(tmp_path):
    jsonl = write(tmp_path / "ex.jsonl", [{"input": "2+2", "output": "4"}, {"input": "3+3", "output": "6", "system": "Math."}])
    loaded = load_examples(jsonl)
    assert loaded[0].messages == [{"role": "user", "content": "2+2"}, {"role": "assistant", "content": "4"}]
    assert loaded[1].system == "Math."
    csv_path = tmp_path / "ex.csv"
    csv_path.write_text('Input,Output\n"multi\nline",yes\nplain,"a, b"\n', encoding="utf-8")
    rows = load_examples(csv_path)
    assert [(r.input, r.output) for r in rows] == [("multi\nline", "yes"), ("plain", "a, b")]
    assert rows[1].line == 4  # the CSV record's last physical line


@pytest.mark.parametrize("line, code", [
    ("{not json", "invalid_json"),
    ('["a list"]', "data_type"),
    ('{"messages": []}', "missing_messages_list"),
    ('{"messages": [{"role": "user"}]}', "message_missing_key"),
    ('{"messages": [{"role": "user", "content": "x", "extra": 1}]}', "message_unrecognized_key"),
    ('{"messages": [{"role": "robot", "content": "x"}]}', "unrecognized_role"),
    ('{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]}', "missing_content"),
    ('{"messages": [{"role": "user", "content": "only a question"}]}', "example_missing_assistant_message"),
    ('{"input": "x", "output": ""}', "missing_content"),
    ('{"prompt": "x", "completion": "y"}', "missing_messages_list"),
])
def test_broken_example_lines_name_line_and_code(tmp_path, line, code):
    path = write(tmp_path / "ex.jsonl", [chat("fine", "ok"), line])
    problems = validate_examples(path)
    assert [(p.line, p.code) for p in problems] == [(2, code)]
    with pytest.raises(DataError) as err:
        load_examples(path)
    assert err.value.line == 2 and f"{path}:2" in str(err.value) and "Fix:" in str(err.value)


def test_validate_lists_every_problem_and_duplicates(tmp_path):
    path = write(tmp_path / "ex.jsonl", ["{bad", chat("a", "b"), chat("a", "b"), '{"messages": 3}'])
    assert [(p.line, p.code) for p in validate_examples(path)] == [(1, "invalid_json"), (3, "duplicate"), (4, "missing_messages_list")]
    with pytest.raises(DataError, match=r"2 more problem"):
        load_examples(path)


def test_empty_missing_and_non_utf8_files(tmp_path):
    empty = write(tmp_path / "empty.jsonl", ["", "  "])
    assert [p.code for p in validate_examples(empty)] == ["empty_file"]
    with pytest.raises(DataError, match="file not found"):
        load_examples(tmp_path / "nope.jsonl")
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"input": "caf\xe9", "output": "x"}'.encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        load_examples(latin)
    bad_csv = tmp_path / "ex.csv"
    bad_csv.write_text("question,answer\na,b\n")
    assert [p.code for p in validate_examples(bad_csv)] == ["missing_columns"]


def test_questions_load_and_every_broken_kind(tmp_path):
    good = write(tmp_path / "q.jsonl", [{"id": "q1", "question": "Why?", "reference": "Because.", "tags": ["t"], "source": "a.md"},
                                        {"id": 2, "question": "How?"}])
    qs = load_questions(good)
    assert (qs[0].id, qs[0].reference, qs[0].tags, qs[0].source) == ("q1", "Because.", ["t"], "a.md")
    assert (qs[1].id, qs[1].reference, qs[1].tags) == ("2", None, [])
    bad = write(tmp_path / "bad.jsonl", [
        {"id": "q1", "question": "ok"},
        {"question": "no id"},
        {"id": "q2", "question": ""},
        {"id": "q3", "question": "x", "tags": "not-a-list"},
        {"id": "q1", "question": "dup"},
        "{oops",
        {"id": "q4", "question": "x", "reference": 42},
    ])
    assert [(p.line, p.code) for p in validate_questions(bad)] == [
        (2, "missing_key"), (3, "missing_content"), (4, "data_type"), (5, "duplicate"), (6, "invalid_json"), (7, "data_type")]
    with pytest.raises(DataError) as err:
        load_questions(bad)
    assert err.value.line == 2
    assert [p.code for p in validate_questions(write(tmp_path / "e.jsonl", [""]))] == ["empty_file"]


def test_demo_datasets_load(demo_copy):
    for dataset in sorted((demo_copy / "corpora").iterdir()):
        if (dataset / "examples.jsonl").is_file():
            assert load_examples(dataset / "examples.jsonl")
        if (dataset / "questions.jsonl").is_file():
            assert load_questions(dataset / "questions.jsonl")
