"""Reading a team's data file line by line, and the problems found in it.

``Problem`` is one thing wrong with a line (codes follow OpenAI's chat fine-tuning data checks).
Validators return *every* problem with its line number (the UI lists them all at once); loaders
raise the first as a ``DataError`` naming file and line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sandbox.errors import DataError


class Problem(BaseModel):
    """One thing wrong with a data file."""

    line: int | None
    code: str
    message: str

    def error(self, path: str | Path, hint: str) -> DataError:
        return DataError(path, self.message, hint, line=self.line)


def read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(path, "file not found.", "Check the path; dataset files live in corpora/DATASET/.")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start}).", "Save the file as UTF-8.") from exc


def json_lines(path: Path, problems: list[Problem]) -> list[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line; bad JSON becomes a problem."""
    rows = []
    for number, text in enumerate(read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            rows.append((number, json.loads(text)))
        except json.JSONDecodeError as exc:
            problems.append(Problem(line=number, code="invalid_json", message=f"invalid JSON: {exc.msg} (column {exc.colno})."))
    return rows


def all_problems(parse: Callable[[Path], tuple[Any, list[Problem]]], path: str | Path) -> list[Problem]:
    """Every problem ``parse`` finds in a file, an unreadable file included (empty list: fine)."""
    try:
        return parse(Path(path))[1]
    except DataError as exc:
        return [Problem(line=exc.line, code="unreadable", message=exc.message)]


def by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line or 0)


def load_all(parse: Callable[[Path], tuple[list, list[Problem]]], path: str | Path, hint: str) -> list:
    """What ``parse`` reads from a file; its first problem raises ``DataError`` (with how many more)."""
    path = Path(path)
    items, problems = parse(path)
    if problems:
        more = f" ({len(problems) - 1} more problem(s) in this file.)" if len(problems) > 1 else ""
        raise problems[0].error(path, hint + more)
    return items
