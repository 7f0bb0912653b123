"""Held-out questions: ``questions.jsonl`` lines are ``{"id", "question", "reference"?, "tags"?, "source"?}``.

``validate_questions`` returns every problem with its line; ``load_questions`` raises the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sandbox.datafile import Problem, all_problems, by_line, json_lines, load_all

QUESTION_HINT = 'Each line must be {"id": "...", "question": "...", "reference": "..." (optional), "tags": [...] (optional), "source": "..." (optional)}.'


class Question(BaseModel):
    """A held-out question, optionally with a reference answer and the document that answers it."""

    id: str
    question: str
    reference: str | None = None
    tags: list[str] = Field(default_factory=list)
    source: str | None = None
    line: int = 0


def _check_question(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return "data_type", f"each line must be a JSON object, got {type(value).__name__}."
    for key in ("id", "question"):
        if key not in value:
            return "missing_key", f"missing '{key}'."
    if not isinstance(value["id"], (str, int)) or isinstance(value["id"], bool) or not str(value["id"]).strip():
        return "data_type", "'id' must be a non-empty string."
    if not isinstance(value["question"], str) or not value["question"].strip():
        return "missing_content", "'question' must be a non-empty string."
    for key in ("reference", "source"):
        if value.get(key) is not None and not isinstance(value[key], str):
            return "data_type", f"'{key}' must be a string."
    tags = value.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return "data_type", "'tags' must be a list of strings."
    return None


def _parse_questions(path: Path) -> tuple[list[Question], list[Problem]]:
    problems: list[Problem] = []
    questions, seen = [], {}
    for number, value in json_lines(path, problems):
        if problem := _check_question(value):
            problems.append(Problem(line=number, code=problem[0], message=problem[1]))
            continue
        qid = str(value["id"]).strip()
        if qid in seen:
            problems.append(Problem(line=number, code="duplicate", message=f"duplicate id {qid!r} (first on line {seen[qid]})."))
            continue
        seen[qid] = number
        questions.append(Question(id=qid, question=value["question"], reference=value.get("reference"),
                                  tags=value.get("tags") or [], source=value.get("source"), line=number))
    if not questions and not problems:
        problems.append(Problem(line=None, code="empty_file", message="no questions in the file."))
    return questions, by_line(problems)


def validate_questions(path: str | Path) -> list[Problem]:
    """Every problem in a questions file (empty list: the file is fine)."""
    return all_problems(_parse_questions, path)


def load_questions(path: str | Path) -> list[Question]:
    """Questions from a JSONL file; the first problem raises ``DataError``."""
    return load_all(_parse_questions, path, QUESTION_HINT)
