"""Dataset import without the app: sanitised names, validate-then-write, merge, nothing lost on bad input."""

import json

import pytest

from sandbox.datasets import add_documents, create_dataset, dataset_name, import_examples, import_questions
from sandbox.errors import DataError, SandboxError
from sandbox.files import safe_filename


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "corpora" / "d"
    (path / "docs").mkdir(parents=True)
    return path


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd", "passwd"), ("..\\..\\win.ini", "win.ini"), (".bashrc", "bashrc"),
    ("ﬁle name.md", "file name.md"), ("a<script>.md", "a_script_.md"), ("x\x00y.txt", "xy.txt"),
])
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_safe_filename_rejects_nothing_left():
    with pytest.raises(DataError):
        safe_filename("../..")


def test_bad_questions_upload_lists_every_error_and_keeps_stored_file(folder, tmp_path):
    target = folder / "questions.jsonl"
    target.write_text('{"id": "1", "question": "kept?"}\n')
    bad = tmp_path / "new.jsonl"
    bad.write_text('{"id": "2", "question": "fine"}\nnot json\n{"id": "3"}\n')
    with pytest.raises(DataError) as info:
        import_questions(folder, str(bad))
    assert "new.jsonl:2" in str(info.value) and "new.jsonl:3" in str(info.value)
    assert target.read_text() == '{"id": "1", "question": "kept?"}\n'
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "1", "question": "again"}\n')
    with pytest.raises(DataError, match="dup.jsonl:1.*already"):
        import_questions(folder, str(dup))
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "2", "question": "new", "tags": ["t"]}\n')
    import_questions(folder, str(good))
    assert [json.loads(x)["id"] for x in target.read_text().splitlines()] == ["1", "2"]


def test_examples_upload_appends_csv_as_chat_jsonl(folder, tmp_path):
    (folder / "examples.jsonl").write_text(json.dumps({"input": "a", "output": "b"}) + "\n")
    csv = tmp_path / "more.csv"
    csv.write_text("input,output\nc,d\n")
    import_examples(folder, str(csv))
    lines = [json.loads(x) for x in (folder / "examples.jsonl").read_text().splitlines()]
    assert [m["messages"][-1]["content"] for m in lines] == ["b", "d"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"messages": []}\n')
    with pytest.raises(DataError, match="broken.jsonl:1"):
        import_examples(folder, str(broken))
    assert len((folder / "examples.jsonl").read_text().splitlines()) == 2


def test_documents_and_new_dataset(folder, tmp_path):
    slug = create_dataset(tmp_path / "corpora", "My Support FAQ!")
    assert slug == "my-support-faq" and (tmp_path / "corpora" / slug / "docs").is_dir()
    with pytest.raises(SandboxError, match="already exists"):
        create_dataset(tmp_path / "corpora", "my support faq")
    upload = tmp_path / "up" / ".hidden notes.md"
    upload.parent.mkdir()
    upload.write_text("hello")
    assert add_documents(tmp_path / "corpora" / slug, [str(upload)]) == ["hidden notes.md"]
    assert (tmp_path / "corpora" / slug / "docs" / "hidden notes.md").read_text() == "hello"


def test_dataset_name_is_one_sanitiser_for_app_and_init():
    assert dataset_name("  My Support FAQ! ") == "my-support-faq" and dataset_name("Ｋｂ_2") == "kb_2"
    assert dataset_name("!!!", default="docs") == "docs"
    with pytest.raises(SandboxError, match="not a usable dataset name"):
        dataset_name("!!!")


def test_safe_filename_default_for_api_uploads():
    assert safe_filename("../..", default="upload") == "upload"
