"""Fine-tuning data preflight: every error code with its line, formats, warnings, split, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.finetune.preflight import preflight
from sandbox.finetune.split import split_examples
from sandbox.examples import parse_examples


def chat(user: str, answer: str, system: str = "Reply in the house format.") -> dict:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]}


def good_lines(n: int, start: int = 0) -> list[str]:
    return [json.dumps(chat(f"ticket {i} about printer {i * 7} on floor {i % 5}", f"ID-{i}: OK")) for i in range(start, start + n)]


def write(tmp_path: Path, lines: list[str], name: str = "examples.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


BROKEN = {
    "invalid_json": '{"messages": [',
    "data_type": '["not", "an", "object"]',
    "missing_messages_list": '{"prompt": "hi", "completion": "there"}',
    "message_missing_key": '{"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}',
    "message_unrecognized_key": '{"messages": [{"role": "user", "content": "q", "mood": "happy"}, {"role": "assistant", "content": "x"}]}',
    "unrecognized_role": '{"messages": [{"role": "robot", "content": "q"}, {"role": "assistant", "content": "x"}]}',
    "missing_content": '{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "x"}]}',
    "example_missing_assistant_message": '{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]}',
}


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_error_code_names_its_line(tmp_path, code):
    lines = good_lines(3)
    lines.insert(2, BROKEN[code])  # line 3
    report = preflight(write(tmp_path, lines))
    assert not report.ok
    assert [(e.line, e.code) for e in report.errors] == [(3, code)]
    assert report.n_examples == 3


def test_too_many_tokens(tmp_path):
    lines = good_lines(2) + [json.dumps(chat("word " * 400, "short"))]
    report = preflight(write(tmp_path, lines), max_tokens=300)
    assert [(e.line, e.code) for e in report.errors] == [(3, "too_many_tokens")]
    assert "300" in report.errors[0].message


def test_duplicate(tmp_path):
    lines = good_lines(3)
    lines.append(lines[1])
    report = preflight(write(tmp_path, lines))
    assert [(e.line, e.code) for e in report.errors] == [(4, "duplicate")]
    assert "line 2" in report.errors[0].message


def test_empty_file(tmp_path):
    report = preflight(write(tmp_path, ["", "   "]))
    assert not report.ok and [e.code for e in report.errors] == ["empty_file"]


def test_input_output_jsonl_and_csv(tmp_path):
    io_lines = [json.dumps({"input": f"q{i} text", "output": f"a{i}"}) for i in range(4)]
    report = preflight(write(tmp_path, io_lines))
    assert report.ok and report.n_examples == 4
    csv_path = tmp_path / "ex.csv"
    csv_path.write_text('input,output\n"hello, world",greeting\nbye,farewell\n,\nthird one,"multi\nline"\n', encoding="utf-8")
    report = preflight(csv_path)
    assert report.ok and report.n_examples == 3
    assert report.token_stats.min > 0 and report.token_stats.max >= report.token_stats.p95 >= report.token_stats.min


def test_token_stats_and_cost(tmp_path):
    report = preflight(write(tmp_path, good_lines(20)), epochs=2, price_train_per_mtok=10.0)
    s = report.token_stats
    assert s.min <= s.mean <= s.max and s.total > s.assistant_total > 0
    assert report.estimated_trained_tokens == s.total * 2
    assert report.estimated_training_cost_usd == pytest.approx(round(s.total * 2 * 10 / 1e6, 4))


def test_size_thresholds(tmp_path):
    codes = lambda n: {w.code for w in preflight(write(tmp_path, good_lines(n))).warnings}
    assert "too_few_examples" in codes(10)
    assert "minimum_examples" in codes(60)
    assert "below_recommended" in codes(120)


def test_near_duplicates_and_leakage(tmp_path):
    lines = good_lines(12)
    lines.append(json.dumps(chat("TICKET 3 about printer 21, on floor 3!", "ID-3: OK")))  # line 13
    path = write(tmp_path, lines)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "ticket 5 about printer 35 on floor 0"}) + "\n"
                         + json.dumps({"id": "q2", "question": "something unrelated entirely"}) + "\n")
    report = preflight(path, questions=questions)
    assert report.ok
    found = {(w.code, w.line) for w in report.warnings}
    assert ("near_duplicate", 13) in found
    assert ("leakage", 6) in found
    assert not any(w.code == "leakage" and "q2" in w.message for w in report.warnings)


def test_split_is_deterministic_stable_and_stored(tmp_path):
    path = write(tmp_path, good_lines(40))
    store = tmp_path / "split.json"
    first = split_examples(parse_examples(path)[0], store)
    assert first.validation and len(first.train) + len(first.validation) == 40
    # reordered file, same split; a fresh computation without the store agrees too
    lines = good_lines(40)[::-1]
    again = split_examples(parse_examples(write(tmp_path, lines, "rev.jsonl"))[0], store)
    assert {e.input for e in again.validation} == {e.input for e in first.validation}
    # appending examples never moves old ones
    grown = split_examples(parse_examples(write(tmp_path, good_lines(40) + good_lines(30, 100), "grown.jsonl"))[0], store)
    old_valid = {e.input for e in first.validation}
    assert old_valid <= {e.input for e in grown.validation}
    assert not old_valid & {e.input for e in grown.train}
    assert json.loads(store.read_text())["assignments"]


def test_check_data_cli_json_and_text(demo_copy, tmp_path):
    from sandbox.cli import app

    ds = demo_copy / "corpora" / "tiny"
    ds.mkdir(parents=True)
    lines = good_lines(12)
    lines.insert(4, '{"messages": "nope"}')
    (ds / "examples.jsonl").write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    result = runner.invoke(app, ["--workspace", str(demo_copy), "check-data", "tiny", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data) >= {"ok", "n_examples", "errors", "warnings", "token_stats", "estimated_training_cost_usd"}
    assert data["errors"] == [{"line": 5, "code": "missing_messages_list", "message": data["errors"][0]["message"]}]
    text = runner.invoke(app, ["--workspace", str(demo_copy), "check-data", str(ds / "examples.jsonl")])
    assert "ERROR line 5 [missing_messages_list]" in text.stdout and "NOT READY" in text.stdout
    assert (demo_copy / ".sandbox" / "finetune" / "splits").is_dir()
