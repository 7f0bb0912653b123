"""Input→output examples: ``examples.jsonl`` lines are OpenAI chat records ``{"messages": [...]}``;
``{"input", "output"}`` lines and CSV files with ``input,output`` columns are accepted too.

``validate_examples`` returns *every* problem with its line number; ``load_examples`` raises the first.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sandbox.datafile import Problem, all_problems, by_line, json_lines, load_all, read_text

ROLES = ("system", "user", "assistant")
MESSAGE_KEYS = {"role", "content", "name", "weight"}
CHAT_HINT = 'Each line must be {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]} or {"input": "...", "output": "..."}.'


class Example(BaseModel):
    """One input→output pair as a chat; ``input``/``output`` are the last user/assistant turns."""

    messages: list[dict[str, Any]]
    input: str
    output: str
    system: str = ""
    line: int = Field(0, description="1-based line (CSV: row) in the source file")


def _csv_rows(path: Path, problems: list[Problem]) -> list[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(read_text(path)))
    columns = {c.strip().lower(): c for c in reader.fieldnames or []}
    if reader.fieldnames and not {"input", "output"} <= columns.keys():
        problems.append(Problem(line=1, code="missing_columns",
                                message=f"CSV header has {list(reader.fieldnames)}; needs 'input' and 'output' columns."))
        return []
    rows = []
    for row in reader:
        values = {"input": row.get(columns["input"]) or "", "output": row.get(columns["output"]) or ""}
        if any(v.strip() for v in values.values()):
            rows.append((reader.line_num, values))
    return rows


# -- examples ----------------------------------------------------------------------------------
def _check_messages(messages: Any) -> tuple[str, str] | None:
    """(code, message) for the first problem in a chat record's message list, or None."""
    if not isinstance(messages, list) or not messages:
        return "missing_messages_list", "'messages' must be a non-empty list."
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return "data_type", f"messages[{i}] must be an object with 'role' and 'content'."
        if "role" not in message or "content" not in message:
            return "message_missing_key", f"messages[{i}] needs both 'role' and 'content'."
        if extra := set(message) - MESSAGE_KEYS:
            return "message_unrecognized_key", f"messages[{i}] has unrecognized key(s) {sorted(extra)}."
        if message["role"] not in ROLES:
            return "unrecognized_role", f"messages[{i}] has role {message['role']!r}; use one of {', '.join(ROLES)}."
        if not isinstance(message["content"], str) or not message["content"].strip():
            return "missing_content", f"messages[{i}] ({message['role']}) has empty or non-text content."
    if not any(m["role"] == "user" for m in messages):
        return "example_missing_user_message", "no user message."
    if not any(m["role"] == "assistant" for m in messages):
        return "example_missing_assistant_message", "no assistant message (the output to learn)."
    return None


def _to_messages(value: Any) -> tuple[list[dict[str, Any]] | None, tuple[str, str] | None]:
    if not isinstance(value, dict):
        return None, ("data_type", f"each line must be a JSON object, got {type(value).__name__}.")
    if "messages" in value:
        problem = _check_messages(value["messages"])
        return (None, problem) if problem else (value["messages"], None)
    if "input" in value or "output" in value:
        pair = {k: value.get(k) for k in ("input", "output")}
        for key, text in pair.items():
            if not isinstance(text, str) or not text.strip():
                return None, ("missing_content", f"'{key}' must be a non-empty string.")
        messages = [{"role": "user", "content": pair["input"]}, {"role": "assistant", "content": pair["output"]}]
        if isinstance(value.get("system"), str) and value["system"].strip():
            messages.insert(0, {"role": "system", "content": value["system"]})
        return messages, None
    return None, ("missing_messages_list", f"no 'messages' list (keys: {sorted(value)}).")


def _last(messages: list[dict[str, Any]], role: str) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == role), "")


def _parse_examples(path: Path) -> tuple[list[Example], list[Problem]]:
    problems: list[Problem] = []
    rows = _csv_rows(path, problems) if path.suffix.lower() == ".csv" else json_lines(path, problems)
    examples, seen = [], {}
    for number, value in rows:
        messages, problem = _to_messages(value)
        if problem:
            problems.append(Problem(line=number, code=problem[0], message=problem[1]))
            continue
        key = json.dumps(messages, sort_keys=True)
        if key in seen:
            problems.append(Problem(line=number, code="duplicate", message=f"duplicate of line {seen[key]}."))
            continue
        seen[key] = number
        examples.append(Example(messages=messages, input=_last(messages, "user"), output=_last(messages, "assistant"),
                                system=_last(messages, "system"), line=number))
    if not examples and not problems:
        problems.append(Problem(line=None, code="empty_file", message="no examples in the file."))
    return examples, by_line(problems)


def validate_examples(path: str | Path) -> list[Problem]:
    """Every problem in an examples file (empty list: the file is fine)."""
    return all_problems(_parse_examples, path)


def parse_examples(path: str | Path) -> tuple[list[Example], list[Problem]]:
    """The valid examples *and* every problem (fine-tuning preflight reports both)."""
    return _parse_examples(Path(path))


def load_examples(path: str | Path) -> list[Example]:
    """Examples from chat JSONL, input/output JSONL or CSV; the first problem raises ``DataError``."""
    return load_all(_parse_examples, path, CHAT_HINT)


def shared_system(examples: list[Example]) -> str:
    """The system message every example shares (the dataset's own instruction), else ''."""
    systems = {e.system for e in examples}
    return systems.pop() if len(systems) == 1 else ""


def dataset_examples(dataset_dir: Path) -> Path | None:
    """The examples file of a dataset folder (JSONL preferred over CSV), or None."""
    for name in ("examples.jsonl", "examples.csv"):
        if (dataset_dir / name).is_file():
            return dataset_dir / name
    return None
