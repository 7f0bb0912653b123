"""Files from outside and files we write: safe names for uploads, atomic writes.

Atomic: write next to the target, then rename over it. A reader (or a crash) never sees half a
file: the target holds either the old content or the new. The temporary name starts with a dot
and ends in ``.tmp``, so directory listings can skip it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandbox.errors import DataError

MAX_NAME = 120
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_filename(name: str, default: str | None = None) -> str:
    """A plain file name from whatever a client sent: last path part only, NFKC, no leading dots.

    Nothing usable left: ``default`` if given, else DataError."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")  # control / format chars
    base = _UNSAFE.sub("_", base).strip(" .")  # leading dots would make hidden files; trailing ones trip Windows
    stem, dot, ext = base.rpartition(".")
    if len(base) > MAX_NAME:
        base = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 else base[:MAX_NAME]
    if base and base not in {".", ".."}:
        return base
    if default is not None:
        return default
    raise DataError(name or "(unnamed)", "this file name has no usable characters.", "Rename the file, e.g. notes.md.")


@contextmanager
def atomic_path(dest: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file path next to ``dest``; renamed onto ``dest`` when the block ends without error.

    ``suffix`` lets writers that insist on an extension (``np.save`` adds ``.npy``) keep it.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(dest: str | Path) -> Iterator[Path]:
    """A temporary folder next to ``dest``; it replaces ``dest`` when the block ends without error."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(dest: str | Path, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(dest: str | Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def atomic_copy(src: str | Path, dest: str | Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
