"""A dataset's folder: create it, add documents, import (validate, then merge) examples and questions.

Layout of one dataset::

    corpora/NAME/docs/              the documents (copies, or a symlink to the team's folder)
    corpora/NAME/examples.jsonl     input→output pairs (or examples.csv)
    corpora/NAME/questions.jsonl    held-out questions

Used by the app's Data tab and by ``sandbox init``. Files are validated before anything is written
and written atomically, so a bad upload never costs what was already stored; names are sanitised.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from sandbox.config import LimitsConfig
from sandbox.datafile import Problem
from sandbox.errors import DataError, SandboxError
from sandbox.examples import dataset_examples, parse_examples
from sandbox.files import atomic_copy, atomic_write_text, safe_filename
from sandbox.questions import load_questions, validate_questions

MAX_DATASET_NAME = 64
LISTED = LimitsConfig().problems_listed  # problems shown per file; the app passes [limits] problems_listed
MAX_PROBLEM_CHARS = 300  # a problem quoting a huge line stays readable


class Imported(BaseModel):
    """What an import added: ``count`` items from ``source``, after ``kept`` already stored."""

    source: str
    count: int
    kept: int = 0


def dataset_name(text: str, default: str | None = None) -> str:
    """A folder-safe dataset name (lowercase letters, digits, '-', '_'); nothing usable: ``default`` or an error."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", unicodedata.normalize("NFKC", text or "").strip().lower()).strip("-_")
    if slug:
        return slug[:MAX_DATASET_NAME]
    if default is not None:
        return default
    raise SandboxError(f"{text!r} is not a usable dataset name.", "Use letters, digits, '-' or '_', e.g. support-faq.")


def create_dataset(corpora_dir: Path, name: str) -> str:
    """An empty dataset (its docs/ folder); returns the sanitised name. An existing one is refused."""
    slug = dataset_name(name)
    folder = corpora_dir / slug
    if folder.exists():
        raise SandboxError(f"Dataset {slug!r} already exists.", "Pick it from the Dataset list, or choose another name.")
    (folder / "docs").mkdir(parents=True)
    return slug


def add_documents(dataset_dir: Path, paths: Sequence[str | Path]) -> list[str]:
    """Copy files into docs/ under sanitised names; returns the names written."""
    names = [safe_filename(Path(p).name) for p in paths]  # all names checked before any file is written
    for path, name in zip(paths, names):
        atomic_copy(path, dataset_dir / "docs" / name)
    return names


def place_documents(source: Path | None, docs_dir: Path, link: bool = False) -> int:
    """Make ``docs_dir`` hold a folder (or one file) of documents, copied or symlinked; returns the file count.

    What was there before is replaced; a symlink is unlinked, never followed into the team's files."""
    if docs_dir.is_symlink() or docs_dir.is_file():
        docs_dir.unlink()
    elif docs_dir.is_dir():
        shutil.rmtree(docs_dir)
    if source is None:
        docs_dir.mkdir(parents=True)
        return 0
    source = source.resolve()
    if source.is_dir():
        if link:
            docs_dir.symlink_to(source, target_is_directory=True)
        else:
            shutil.copytree(source, docs_dir, ignore=shutil.ignore_patterns(".*"))
    else:
        docs_dir.mkdir(parents=True)
        if link:
            (docs_dir / source.name).symlink_to(source)
        else:
            shutil.copy2(source, docs_dir / source.name)
    return sum(1 for p in docs_dir.rglob("*") if p.is_file())


def place_examples(dataset_dir: Path, source: Path) -> Path:
    """Copy an (already validated) examples file as it is, JSONL or CSV: one examples file per dataset."""
    target = dataset_dir / ("examples.csv" if source.suffix.lower() == ".csv" else "examples.jsonl")
    for old in ("examples.csv", "examples.jsonl"):
        (dataset_dir / old).unlink(missing_ok=True)
    atomic_copy(source, target)
    return target


def import_examples(dataset_dir: Path, upload: str | Path, append: bool = True, listed: int = LISTED) -> Imported:
    """Validate an examples file (chat JSONL, input/output JSONL or CSV), then merge or replace.

    Stored as chat JSONL ``{"messages": [...]}`` in examples.jsonl. Raises DataError listing every problem.
    """
    shown = safe_filename(Path(upload).name)
    new, problems = parse_examples(upload)
    _refuse(shown, problems, listed)
    existing = []
    if append and (current := dataset_examples(dataset_dir)) is not None:
        existing, old_problems = parse_examples(current)
        if old_problems:
            raise DataError(current.name, "the stored examples file has problems; not merging into it.\n"
                            + problems_text(current.name, old_problems, listed), "Fix it, or untick 'Append' to replace it.")
    text = "".join(json.dumps({"messages": e.messages}, ensure_ascii=False) + "\n" for e in [*existing, *new])
    atomic_write_text(dataset_dir / "examples.jsonl", text)
    return Imported(source=shown, count=len(new), kept=len(existing))


def import_questions(dataset_dir: Path, upload: str | Path, append: bool = True, listed: int = LISTED) -> Imported:
    """Validate a questions file, refuse ids that already exist when appending, then write atomically."""
    shown = safe_filename(Path(upload).name)
    problems = validate_questions(upload)
    target = dataset_dir / "questions.jsonl"
    existing_text = target.read_text(encoding="utf-8") if append and target.is_file() else ""
    questions = [] if problems else load_questions(upload)
    have = {q.id for q in load_questions(target)} if questions and existing_text else set()
    problems += [Problem(line=q.line, code="duplicate", message=f"id {q.id!r} is already in questions.jsonl.")
                 for q in questions if q.id in have]
    _refuse(shown, problems, listed)
    rows = "".join(json.dumps(q.model_dump(exclude={"line"}, exclude_none=True), ensure_ascii=False) + "\n" for q in questions)
    if existing_text and not existing_text.endswith("\n"):
        existing_text += "\n"
    atomic_write_text(target, existing_text + rows)
    return Imported(source=shown, count=len(questions), kept=len(have))


def problems_text(filename: str, problems: Sequence[Problem], listed: int = LISTED) -> str:
    """The first ``listed`` problems, one a line (each cut to a readable length), then how many more."""
    lines = [f"{filename}:{p.line if p.line is not None else '-'}: [{p.code}] {_cut(p.message)}" for p in problems[:listed]]
    if len(problems) > listed:
        lines.append(f"... and {len(problems) - listed:,} more problem(s) ([limits] problems_listed shows more).")
    return "\n".join(lines)


def _cut(message: str) -> str:
    return message if len(message) <= MAX_PROBLEM_CHARS else message[:MAX_PROBLEM_CHARS] + "…"


def _refuse(shown: str, problems: Sequence[Problem], listed: int) -> None:
    if problems:
        raise DataError(shown, f"{len(problems):,} problem(s); nothing was saved.\n" + problems_text(shown, problems, listed),
                        "Fix those lines and upload again.")
