"""Index and search end to end: the real CLI, the real embedding model, a real Chroma server,
and `sandbox index` killed with SIGKILL in the middle of a run."""

from __future__ import annotations

import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.config import load_workspace
from fakes import FakeEmbedder
from sandbox.errors import ConfigError, IndexStateError
from sandbox.index import Retriever, build_index
from sandbox.vectorstore import client, collection_name, get_all

pytestmark = pytest.mark.integration

DOCS = {
    "hr/vacation.md": "# Vacation policy\n\nEmployees get 27 days of paid vacation per year.\n\n## Carry-over\n\nUp to five unused days carry over to the next year.",
    "it/vpn.md": "# VPN\n\nConnect to the company VPN with the WireGuard client before opening internal tools.",
    "kitchen.html": "<html><head><title>Kitchen rules</title><script>alert('x')</script></head><body><h1>Kitchen</h1><p>Clean the coffee machine every Friday afternoon.</p></body></html>",
}


def sandbox(ws: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_") or k == "SANDBOX_CACHE_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "--workspace", str(ws), *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


@pytest.fixture
def small_ws(workspace_dir: Path) -> Path:
    for rel, text in DOCS.items():
        path = workspace_dir / "corpora" / "team" / "docs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (workspace_dir / "corpora" / "team" / "docs" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 20)
    (workspace_dir / "corpora" / "unbuilt" / "docs").mkdir(parents=True)
    return workspace_dir


def cli(ws: Path, *args: str):
    """In-process CLI: the model loads once per test session, not once per command."""
    from typer.testing import CliRunner

    from sandbox.cli import app

    result = CliRunner().invoke(app, ["--workspace", str(ws), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_cli_index_and_search_contracts(small_ws: Path, tmp_path: Path):
    done = sandbox(small_ws, "index", "team", "--json")  # a real process: stdout must be pure JSON
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, "--json prints exactly one JSON object; the progress bar goes to stderr"
    report = json.loads(lines[0])
    assert set(report) == {"dataset", "documents", "chunks_added", "chunks_removed", "chunks_total", "skipped", "seconds"}
    assert (report["dataset"], report["documents"], report["chunks_removed"]) == ("team", 3, 0)
    assert report["chunks_added"] == report["chunks_total"] >= 4
    assert report["skipped"] == [{"source": "logo.png", "reason": report["skipped"][0]["reason"]}]
    assert "logo.png" in report["skipped"][0]["reason"]
    assert "chunk/s" in done.stderr

    found = cli(small_ws, "search", "how many days off do I get", "-d", "team", "-k", "2", "--json")
    assert found.exit_code == 0, found.output
    result = json.loads(found.stdout)
    assert result["query"] == "how many days off do I get"
    assert len(result["hits"]) == 2
    assert all(set(h) == {"source", "chunk_id", "text", "score"} for h in result["hits"])
    assert result["hits"][0]["source"] == "hr/vacation.md"

    queries = tmp_path / "q.jsonl"
    asked = ["when must the coffee machine be cleaned", "wireguard", "carry over unused days"]
    queries.write_text("\n".join(json.dumps({"id": i, "question": q}) for i, q in enumerate(asked)) + "\n")
    many = cli(small_ws, "search", "--queries", str(queries), "-d", "team", "-k", "1", "--json")
    assert many.exit_code == 0, many.output
    answers = [json.loads(line) for line in many.stdout.strip().splitlines()]
    assert [a["query"] for a in answers] == asked
    assert [a["hits"][0]["source"] for a in answers] == ["kitchen.html", "it/vpn.md", "hr/vacation.md"]
    assert "alert" not in answers[0]["hits"][0]["text"]

    table = cli(small_ws, "search", "vpn", "-d", "team")
    assert table.exit_code == 0 and "it/vpn.md" in table.stdout

    unchanged = cli(small_ws, "index", "team", "--json")
    assert json.loads(unchanged.stdout)["chunks_added"] == 0

    every = cli(small_ws, "index", "--all", "--json")  # what `make demo` runs
    assert every.exit_code == 0, every.output
    reports = [json.loads(line) for line in every.stdout.strip().splitlines()]
    assert [(r["dataset"], r["chunks_added"]) for r in reports] == [("team", 0), ("unbuilt", 0)]
    with pytest.raises(IndexStateError, match="empty"):
        cli(small_ws, "search", "anything", "-d", "unbuilt")


def test_cli_errors_are_one_clear_message(small_ws: Path, tmp_path: Path):
    missing = sandbox(small_ws, "search", "anything", "-d", "unbuilt")
    assert missing.returncode == 1
    assert "sandbox index unbuilt" in missing.stderr and "Traceback" not in missing.stderr

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"q": "no question field"}\n')
    broken = sandbox(small_ws, "search", "--queries", str(bad), "-d", "team")
    assert broken.returncode == 1
    assert f"{bad}:2" in broken.stderr and "question" in broken.stderr


# ---------------------------------------------------------------- killed mid-run


def _big_corpus(root: Path, n_docs: int = 24) -> None:
    rng = random.Random(0)
    words = "sensor firmware valve pressure turbine audit ledger invoice badge laptop payroll vacation".split()
    for i in range(n_docs):
        parts = [f"# Document {i}\n"]
        for s in range(4):
            parts.append(f"## Section {s}\n")
            parts.append(" ".join(f"{rng.choice(words).capitalize()} {' '.join(rng.choices(words, k=8))}." for _ in range(5)))
        (root / f"doc{i:02d}.md").write_text("\n\n".join(parts), encoding="utf-8")


@pytest.mark.slow
def test_sigkill_midway_then_rerun_gives_exactly_a_clean_build(workspace_dir: Path):
    docs = workspace_dir / "corpora" / "big" / "docs"
    docs.mkdir(parents=True)
    _big_corpus(docs)
    # Small batches (groups of 8 x 4 chunks) so some are stored, with markers, before the kill.
    (workspace_dir / "sandbox.toml").write_text("[index]\nchunk_tokens = 60\nchunk_overlap = 10\nbatch_size = 4\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_") or k == "SANDBOX_CACHE_DIR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--workspace", str(workspace_dir), "index", "big"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )
    seen, total, deadline = 0, 0, time.monotonic() + 180
    buffer = b""
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            buffer += os.read(proc.stderr.fileno(), 65536)
            counts = re.findall(rb"(\d+)/(\d+) \[", buffer)
            if counts:
                seen, total = map(int, counts[-1])
        if total and seen >= max(0.4 * total, 40):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert total and seen < total, f"indexing finished before it could be killed ({seen}/{total})"

    ws = load_workspace(workspace_dir)
    partial = len(get_all(client(ws).get_collection(collection_name(ws, "big")), [])["ids"])
    assert 0 < partial < total, "the kill should land mid-run"

    rerun = sandbox(workspace_dir, "index", "big", "--json")
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    ids = get_all(client(ws).get_collection(collection_name(ws, "big")), [])["ids"]
    assert len(ids) == len(set(ids)) == report["chunks_total"] == total

    from sandbox.chunking import chunk_document
    from sandbox.corpus import load_documents
    from sandbox.embeddings import get_embedder
    from sandbox.index import version_hash

    embedder, idx = get_embedder(ws.settings), ws.settings.index
    expected = {
        c.id
        for d in load_documents(docs)[0]
        for c in chunk_document(d, version_hash(d.sha256, ws.settings), embedder.count_tokens, idx.chunk_tokens, idx.chunk_overlap, embedder.max_tokens)
    }
    assert set(ids) == expected, "a clean build's chunks, no more, no fewer"


# ---------------------------------------------------------------- Chroma server mode


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path):
    binary = Path(sys.executable).parent / "chroma"
    if not binary.exists():
        pytest.skip(f"the chroma CLI is not installed at {binary} (pip install chromadb provides it)")
    port = _free_port()
    proc = subprocess.Popen(
        [str(binary), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "server-data")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("chroma run exited during startup")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_http_client_against_a_chroma_server(small_ws: Path, chroma_server: str):
    (small_ws / "sandbox.toml").write_text(f'[index]\nchroma_url = "{chroma_server}"\n')
    ws = load_workspace(small_ws)
    first = build_index(ws, "team", embedder=FakeEmbedder())
    assert first.chunks_added == first.chunks_total > 0
    assert not (small_ws / ".sandbox" / "chroma").exists(), "server mode stores nothing in the embedded path"

    (small_ws / "corpora" / "team" / "docs" / "it" / "vpn.md").unlink()
    second = build_index(ws, "team", embedder=FakeEmbedder())
    assert second.chunks_removed > 0 and second.chunks_added == 0
    hits = Retriever(ws, "team", embedder=FakeEmbedder()).search("vacation days", k=3)
    assert hits and hits[0].source == "hr/vacation.md"
    assert "it/vpn.md" not in {h.source for h in hits}

    # the same dataset name in another workspace gets its own collection on a shared server
    other = small_ws.parent / "other"
    shutil.copytree(small_ws, other, ignore=shutil.ignore_patterns(".sandbox"))
    assert build_index(load_workspace(other), "team", embedder=FakeEmbedder()).chunks_added == second.chunks_total


def test_unreachable_chroma_server_is_a_clear_error(small_ws: Path):
    (small_ws / "sandbox.toml").write_text(f'[index]\nchroma_url = "http://127.0.0.1:{_free_port()}"\n')
    with pytest.raises(ConfigError) as err:
        build_index(load_workspace(small_ws), "team", embedder=FakeEmbedder())
    assert "chroma run" in str(err.value)
