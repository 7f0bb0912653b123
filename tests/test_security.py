"""Issue #19, one test (or more) per finding: the attack reproduced, now refused or bounded."""

from __future__ import annotations

import asyncio
import json

import pytest

from sandbox.app.context import AppContext
from sandbox.config import load_workspace
from sandbox.errors import DatasetNotFound, SandboxError
from sandbox.judgment_stats import question_tags

OUTSIDE_QUESTIONS = json.dumps({"id": "secret", "question": "outside the workspace"}) + "\n"


@pytest.fixture
def ws_and_outside(workspace_dir, tmp_path):
    (workspace_dir / "corpora" / "d" / "docs").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "questions.jsonl").write_text(OUTSIDE_QUESTIONS)
    (outside / "examples.jsonl").write_text(json.dumps({"input": "private", "output": "data"}) + "\n")
    return load_workspace(workspace_dir), outside


# row 1: a dataset is a name from the workspace, never a path ---------------------------------------------
@pytest.mark.parametrize("name", ["{outside}", "../../outside", "../outside", "d/../../outside", "d/", ".", "..",
                                  "d\\..", "nonexistent", "d\x00"])
def test_dataset_names_are_never_paths(ws_and_outside, name):
    ws, outside = ws_and_outside
    name = name.format(outside=outside)
    with pytest.raises(DatasetNotFound) as err:
        ws.dataset_dir(name)
    message = str(err.value)
    assert str(ws.root) not in message and "Available: d." in message  # the name is echoed, no folder is


def test_same_error_whether_the_outside_folder_exists_or_not(ws_and_outside, tmp_path):
    ws, outside = ws_and_outside
    messages = set()
    for name in (str(outside), str(tmp_path / "missing")):
        with pytest.raises(DatasetNotFound) as err:
            ws.dataset_dir(name)
        messages.add(str(err.value).split("' not found.")[1])  # after the echoed (maybe shortened) name
    assert len(messages) == 1


def test_ask_and_summary_refuse_a_path_as_dataset(ws_and_outside):
    ws, outside = ws_and_outside
    ctx = AppContext.for_workspace(ws)
    with pytest.raises(SandboxError, match="not found"):
        ctx.new_comparison(str(outside), "What?", blind=True)
    with pytest.raises(SandboxError, match="not found"):
        question_tags(ws, [str(outside)])
    from sandbox.app.compare_tab import load_questions

    assert load_questions(ctx, str(outside))[0] == []  # the Compare tab's question list: nothing from outside


# row 6: pop-ups show user data as text -------------------------------------------------------------------
def test_popup_messages_are_escaped():
    from sandbox.app.popups import as_text, error

    evil = 'questions.jsonl:1: <img src="http://evil.example/x.png"><form action=//evil><a href=//evil>click</a>\nnext'
    text = as_text(evil)
    assert "<img" not in text and "<form" not in text and "<a " not in text
    assert "&lt;img src=&quot;http://evil.example/x.png&quot;&gt;" in text and text.endswith("<br>next")
    assert "&lt;form" in error(evil).message


# row 8: endpoint error text is redacted before it is stored or shown -------------------------------------
def test_run_errors_are_stored_without_any_configured_key(workspace_dir, monkeypatch):
    from fakeserver import FakeServer, Reply
    from sandbox.compare import Done, stream_compare
    from sandbox.store import Store

    other_key = "sk-other-endpoint-key-42"  # a key of another endpoint, echoed in this one's error
    monkeypatch.setenv("KEY_A", "sk-a-0123456789")
    monkeypatch.setenv("KEY_B", other_key)
    (workspace_dir / "corpora" / "d" / "docs").mkdir(parents=True)
    (workspace_dir / "corpora" / "d" / "examples.jsonl").write_text(json.dumps({"input": "a?", "output": "b"}) + "\n")
    with FakeServer(Reply(status=400, error=f"bad key {{key}}; also saw {other_key}")) as server:
        (workspace_dir / "sandbox.toml").write_text(f"""
[endpoints.a]
base_url = "{server.base_url}"
api_key_env = "KEY_A"
max_retries = 0
[endpoints.b]
base_url = "{server.base_url}"
api_key_env = "KEY_B"
[pipelines.few-shot]
endpoint = "a"
""")
        ws = load_workspace(workspace_dir)
        store = Store(ws.db_path)

        async def go():
            return [e async for e in stream_compare(ws, "Q?", dataset="d", pipelines=("few-shot",), store=store)]
        done = [e for e in asyncio.run(go()) if isinstance(e, Done)]
    error = done[0].record.error
    assert "sk-a-0123456789" not in error and other_key not in error and error.count("[redacted]") == 2
    assert b"0123456789" not in ws.db_path.read_bytes() and other_key.encode() not in ws.db_path.read_bytes()
    assert [r.error for r in store.runs()] == [error]


# row 3 (model server): Host allow-list, same origin only, bearer token; row 5: bodies bounded while streaming
@pytest.fixture
def guarded_server(workspace_dir):
    from sandbox.localserver import start_local_server
    from test_server_api import FakeGenerator

    (workspace_dir / "sandbox.toml").write_text('[limits]\nrequest_mb = 1\n[server]\nallowed_hosts = ["models.lan"]\n')
    with start_local_server(load_workspace(workspace_dir), generator=FakeGenerator(), preload=False,
                            api_key="per-start-token") as server:
        yield server


def test_server_refuses_rebinding_hosts_other_origins_and_missing_tokens(guarded_server):
    import httpx

    url, ok = guarded_server.base_url + "/models", {"Authorization": "Bearer per-start-token"}
    port = guarded_server.port
    assert httpx.get(url, headers=ok).status_code == 200
    assert httpx.get(url, headers={**ok, "Host": f"models.lan:{port}"}).status_code == 200  # configured name
    rebound = httpx.get(url, headers={**ok, "Host": "rebind.evil.example", "Origin": "http://rebind.evil.example"})
    assert rebound.status_code == 400 and "access-control-allow-origin" not in rebound.headers
    assert "allowed_hosts" in rebound.json()["error"]["message"]
    for origin in (f"http://127.0.0.1:{port + 1}", "http://evil.example", "null"):
        response = httpx.get(url, headers={**ok, "Origin": origin})
        assert response.status_code == 403 and "access-control-allow-origin" not in response.headers
    assert httpx.get(url, headers={**ok, "Origin": f"http://127.0.0.1:{port}"}).status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "per-start-token"}):
        assert httpx.get(url, headers=headers).status_code == 401


def test_server_file_uploads_are_bounded_while_streaming(guarded_server):
    import httpx

    url = guarded_server.base_url + "/files"
    auth = {"Authorization": "Bearer per-start-token"}
    big = httpx.post(url, headers=auth, files={"file": ("a.jsonl", b"x" * (3 * 2**20))}, data={"purpose": "fine-tune"})
    assert big.status_code == 413 and "request_mb" in big.json()["error"]["message"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n\r\n"
        for _ in range(40):
            yield b"y" * 65536
    streamed = httpx.post(url, headers={**auth, "Content-Type": "multipart/form-data; boundary=b"}, content=chunks())
    assert streamed.status_code == 413
    small = httpx.post(url, headers=auth, files={"file": ("a.jsonl", b'{"messages": []}\n')}, data={"purpose": "fine-tune"})
    assert small.status_code == 200
    cross_site = httpx.post(url, headers={**auth, "Origin": "http://evil.example"},
                            files={"file": ("a.jsonl", b"{}\n")}, data={"purpose": "fine-tune"})
    assert cross_site.status_code == 403


def test_in_process_server_uses_a_per_start_token(workspace_dir, monkeypatch):
    import httpx

    from sandbox.config import EndpointConfig
    from sandbox.endpoints import ChatEndpoint
    from sandbox.localserver import local_base_url
    from sandbox.server import inprocess
    from test_server_api import BASE, FakeGenerator

    real_start = inprocess.start_local_server
    monkeypatch.setattr(inprocess, "start_local_server",
                        lambda ws, **kw: real_start(ws, generator=FakeGenerator(), **{**kw, "preload": False}))
    ws = load_workspace(workspace_dir)
    url = local_base_url(ws)
    try:
        token = inprocess.token_for(url)
        assert token and len(token) >= 32
        assert httpx.get(url + "/models").status_code == 401  # another program or user without the token
        reply = asyncio.run(ChatEndpoint("local", EndpointConfig(model=BASE), url).complete(
            [{"role": "user", "content": "one two"}], model=BASE, max_tokens=2))
        assert reply.text
    finally:
        inprocess._servers.pop(ws.root.resolve()).stop()


# row 5: bounded work per input ------------------------------------------------------------------------------
def test_long_questions_are_refused_before_any_work(ws_and_outside):
    from sandbox.compare import stream_compare

    ws, _ = ws_and_outside
    limit = ws.settings.limits.question_chars
    ctx = AppContext.for_workspace(ws)
    with pytest.raises(SandboxError, match=f"limit is {limit:,}") as err:
        ctx.new_comparison("d", "x" * (10 * 2**20), blind=True)  # the 10 MB question of the report
    assert "question_chars" in str(err.value) and not ctx.comparisons

    async def cli_path():
        async for _ in stream_compare(ws, "y" * (limit + 1), dataset="d"):
            pass
    with pytest.raises(SandboxError, match="question_chars"):
        asyncio.run(cli_path())
    assert ctx.new_comparison("d", "z" * limit, blind=True)  # the limit itself is fine


def docx_with_paragraphs(n: int, text: str = "word " * 20) -> bytes:
    """A real DOCX (python-docx) whose document.xml is rewritten to hold ``n`` paragraphs: small zipped, huge inside."""
    import io
    import zipfile

    import docx

    buf = io.BytesIO()
    docx.Document().save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                para = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()
                data = data.replace(b"<w:body>", b"<w:body>" + para * n, 1)
            dst.writestr(item, data)
    return out.getvalue()


def test_zip_bomb_docx_is_refused_before_it_is_unpacked(workspace_dir):
    import time

    from sandbox.config import LimitsConfig
    from sandbox.corpus import UnreadableFile, docx_blocks

    bomb = docx_with_paragraphs(60_000)  # ~7 MB of XML in well under 100 KB
    assert len(bomb) < 100_000
    started = time.process_time()
    with pytest.raises(UnreadableFile, match=r"MB of XML, over the 2 MB limit .*doc_uncompressed_mb"):
        docx_blocks(bomb, LimitsConfig(doc_uncompressed_mb=2))
    assert time.process_time() - started < 5  # refused from the zip directory, not after parsing
    with pytest.raises(UnreadableFile, match=r"60,000 paragraphs .* over the 1,000 limit .*doc_paragraphs"):
        docx_blocks(bomb, LimitsConfig(doc_paragraphs=1000))
    assert len(docx_blocks(docx_with_paragraphs(3))) == 3  # an ordinary document still reads


def test_index_skips_documents_over_the_limits_and_says_why(workspace_dir):
    from fakes import FakeEmbedder
    from sandbox.index import build_index

    docs = workspace_dir / "corpora" / "d" / "docs"
    docs.mkdir(parents=True)
    (docs / "bomb.docx").write_bytes(docx_with_paragraphs(60_000))
    (docs / "long.md").write_text("\n\n".join(f"Paragraph {i} " + "text " * 150 for i in range(40)))
    (docs / "ok.md").write_text("# Pump\n\nThe pump runs at 42 rpm.\n")
    (workspace_dir / "sandbox.toml").write_text("[limits]\ndoc_uncompressed_mb = 2\nchunks_per_doc = 10\n")
    report = build_index(load_workspace(workspace_dir), "d", embedder=FakeEmbedder())
    reasons = {s.source: s.reason for s in report.skipped}
    assert "doc_uncompressed_mb" in reasons["bomb.docx"] and "chunks_per_doc" in reasons["long.md"]
    assert report.documents == 1 and report.chunks_total >= 1


def test_problems_are_listed_first_n_then_counted(workspace_dir, tmp_path):
    """A binary file uploaded as examples made a 150 MB error message: now N lines, each cut, then a count."""
    from sandbox import datasets
    from sandbox.errors import DataError

    dataset = workspace_dir / "corpora" / "d"
    dataset.mkdir(parents=True)
    bad = tmp_path / "examples.jsonl"
    bad.write_text("".join("{not json " + "x" * 5000 + "\n" for _ in range(3000)))
    with pytest.raises(DataError) as err:
        datasets.import_examples(dataset, bad, listed=7)
    message = str(err.value)
    assert "and 2,993 more problem(s)" in message and "problems_listed" in message
    assert message.count("examples.jsonl:") <= 8 and len(message) < 7 * 400 + 500
    assert not (dataset / "examples.jsonl").exists()


# also: a fine-tune worker never outlives the server that started it ----------------------------------------
def test_worker_exits_when_its_parent_dies(tmp_path):
    """Seen: orphaned `sandbox.finetune.worker` processes kept training after their parent pytest died.
    Here a real parent starts a real child that runs the worker's watch; the parent is SIGKILLed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    marker = tmp_path / "orphaned"
    child = (f"import os, sys, time; from sandbox.finetune.worker import watch_parent; "
             f"watch_parent(os.getppid(), lambda: (open({str(marker)!r}, 'w').write('x'), os._exit(3)), poll_s=0.1); "
             f"print(os.getpid(), flush=True); time.sleep(600)")
    parent = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', {child!r}], "
              f"start_new_session=True); time.sleep(600)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", parent], env=env, stdout=subprocess.PIPE)
    # the grandchild's pid: the parent's only child
    deadline = time.monotonic() + 120
    kids: list[int] = []
    while time.monotonic() < deadline and not kids:
        try:
            kids = [int(x) for x in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
        except OSError:
            pass
        time.sleep(0.2)
    assert kids, "the parent did not start its child"
    time.sleep(1.0)  # the child is watching
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    while time.monotonic() < deadline and os.path.exists(f"/proc/{kids[0]}") and not _zombie(kids[0]):
        time.sleep(0.2)
    assert marker.exists() and (not os.path.exists(f"/proc/{kids[0]}") or _zombie(kids[0]))


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_jobs_start_workers_with_the_server_pid(monkeypatch, tmp_path):
    import os

    from sandbox.finetune import jobs

    seen = {}

    class Popen:
        def __init__(self, args, **kwargs):
            seen["args"], self.pid = args, 4242

    monkeypatch.setattr(jobs.subprocess, "Popen", Popen)
    monkeypatch.setattr(jobs, "_children", {})
    store = jobs.JobStore(tmp_path / ".sandbox")

    class Job:
        id, status, pid, started_at = "ftjob-x", "queued", None, None

    (tmp_path / ".sandbox").mkdir(exist_ok=True)
    monkeypatch.setattr(store, "save", lambda job: None)
    monkeypatch.setattr(store, "event", lambda *a, **k: None)
    monkeypatch.setattr(store, "job_dir", lambda job_id: tmp_path)
    jobs._start(tmp_path / ".sandbox", store, Job())
    assert seen["args"][-3:] == [str(tmp_path), "ftjob-x", str(os.getpid())]


def test_pdf_page_count_is_bounded_before_extraction():
    import io

    from pypdf import PdfWriter

    from sandbox.config import LimitsConfig
    from sandbox.corpus import UnreadableFile, pdf_blocks

    writer = PdfWriter()
    for _ in range(50):
        writer.add_blank_page(width=200, height=200)
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(UnreadableFile, match=r"50 pages, over the 10 page limit .*doc_pages"):
        pdf_blocks(buf.getvalue(), LimitsConfig(doc_pages=10))
    with pytest.raises(UnreadableFile, match="no text layer"):  # within the limit it is read as before
        pdf_blocks(buf.getvalue(), LimitsConfig(doc_pages=100))
