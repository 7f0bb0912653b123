"""Atomic writes: the target holds the old content or the new, never half, and no temp file is left."""

from pathlib import Path

import pytest

from sandbox.files import atomic_copy, atomic_dir, atomic_path, atomic_write_text


def test_write_replaces_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text(encoding="utf-8") == "two"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_failed_write_keeps_old_content(tmp_path: Path):
    target = tmp_path / "a.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_copy(tmp_path: Path):
    (tmp_path / "src.md").write_text("# hi", encoding="utf-8")
    atomic_copy(tmp_path / "src.md", tmp_path / "docs" / "dest.md")
    assert (tmp_path / "docs" / "dest.md").read_text(encoding="utf-8") == "# hi"


def test_dir_replaces_existing_and_cleans_up_on_error(tmp_path: Path):
    folder = tmp_path / "cache"
    with atomic_dir(folder) as tmp:
        (tmp / "x").write_text("1")
    with atomic_dir(folder) as tmp:
        (tmp / "y").write_text("2")
    assert sorted(p.name for p in folder.iterdir()) == ["y"]
    with pytest.raises(ValueError):
        with atomic_dir(folder) as tmp:
            (tmp / "z").write_text("3")
            raise ValueError
    assert sorted(p.name for p in folder.iterdir()) == ["y"]
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]
