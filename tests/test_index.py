"""The index over real Chroma on disk, with the deterministic fake embedder (fast).

The expected chunk ids are computed independently from the chunker, so every test
checks the index holds *exactly* the right chunks: no duplicates, no orphans.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sandbox.chunking import chunk_document
from sandbox.config import load_workspace
from sandbox.corpus import load_documents
from fakes import FakeEmbedder
from sandbox.errors import IndexStateError
from sandbox.index import Retriever, build_index, docs_dir, version_hash
from sandbox.vectorstore import client, collection_name, get_all

WORDS = "ledger invoice refund turbine sensor valve firmware badge laptop vacation payroll audit".split()


def _doc(topic: str, seed: int, sections: int = 3) -> str:
    rng = random.Random(seed)
    out = [f"# {topic.title()} guide\n"]
    for s in range(sections):
        out.append(f"## Part {s}\n")
        for _ in range(3):
            out.append(" ".join(f"{topic} {rng.choice(WORDS)} {rng.choice(WORDS)}." for _ in range(6)) + "\n")
    return "\n".join(out)


@pytest.fixture
def ws(workspace_dir: Path):
    (workspace_dir / "sandbox.toml").write_text("[index]\nchunk_tokens = 40\nchunk_overlap = 8\nbatch_size = 4\n")
    docs = workspace_dir / "corpora" / "ds" / "docs"
    (docs / "team").mkdir(parents=True)
    for i, topic in enumerate(["aurora", "basalt", "cobalt", "dynamo"]):
        (docs / f"{topic}.md").write_text(_doc(topic, i), encoding="utf-8")
    (docs / "team" / "ember notes.txt").write_text(_doc("ember", 9, sections=1), encoding="utf-8")
    (docs / "empty.txt").write_text("")
    return load_workspace(workspace_dir)


def expected_ids(ws, embedder) -> set[str]:
    docs, _ = load_documents(docs_dir(ws, "ds"))
    idx = ws.settings.index
    return {
        c.id
        for d in docs
        for c in chunk_document(d, version_hash(d.sha256, ws.settings), embedder.count_tokens, idx.chunk_tokens, idx.chunk_overlap, embedder.max_tokens)
    }


def stored(ws) -> tuple[list[str], list[dict]]:
    col = client(ws).get_collection(collection_name(ws, "ds"))
    rows = get_all(col, ["metadatas"])
    markers = get_all(client(ws).get_collection(collection_name(ws, "ds") + ".docs"), ["metadatas"])
    return rows["ids"], markers["metadatas"]


def assert_exact(ws, embedder) -> None:
    ids, markers = stored(ws)
    assert len(ids) == len(set(ids)), "duplicate chunks"
    assert set(ids) == expected_ids(ws, embedder), "missing or orphan chunks"
    docs, _ = load_documents(docs_dir(ws, "ds"))
    assert {m["source"] for m in markers} == {d.source for d in docs}


class CountingEmbedder(FakeEmbedder):
    def __init__(self, fail_after: int | None = None):
        super().__init__(dim=64)
        self.calls = 0
        self.fail_after = fail_after

    def encode(self, texts, batch_size=64):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.calls += 1
        return super().encode(texts, batch_size)


def test_build_reports_and_stores_exactly_the_chunks(ws):
    embedder = CountingEmbedder()
    seen = []
    report = build_index(ws, "ds", progress=lambda done, total: seen.append((done, total)), embedder=embedder)
    assert report.dataset == "ds" and report.documents == 5
    assert report.chunks_added == report.chunks_total == len(expected_ids(ws, embedder)) > 20
    assert report.chunks_removed == 0
    assert [s.source for s in report.skipped] == ["empty.txt"] and "empty" in report.skipped[0].reason
    assert set(report.model_dump()) == {"dataset", "documents", "chunks_added", "chunks_removed", "chunks_total", "skipped", "seconds"}
    assert seen[-1] == (report.chunks_added, report.chunks_added) and len(seen) > 3
    assert_exact(ws, embedder)

    again = CountingEmbedder()
    report = build_index(ws, "ds", embedder=again)
    assert (report.chunks_added, report.chunks_removed, again.calls) == (0, 0, 0), "unchanged documents are not re-embedded"


def test_incremental_add_change_delete(ws):
    embedder = CountingEmbedder()
    first = build_index(ws, "ds", embedder=embedder)
    docs = ws.root / "corpora" / "ds" / "docs"
    basalt_before = sum(1 for i in stored(ws)[0] if i in _ids_of(ws, embedder, "basalt.md"))

    (docs / "aurora.md").unlink()
    (docs / "basalt.md").write_text(_doc("basalt", 42, sections=2), encoding="utf-8")
    (docs / "new" / "fjord.md").parent.mkdir()
    (docs / "new" / "fjord.md").write_text(_doc("fjord", 5), encoding="utf-8")
    report = build_index(ws, "ds", embedder=embedder)

    assert report.documents == 5
    assert report.chunks_added == len(_ids_of(ws, embedder, "basalt.md")) + len(_ids_of(ws, embedder, "new/fjord.md"))
    assert report.chunks_total == first.chunks_total - report.chunks_removed + report.chunks_added
    assert report.chunks_removed > basalt_before  # aurora's chunks and basalt's old ones
    assert_exact(ws, embedder)
    sources = {m["source"] for m in stored(ws)[1]}
    assert "aurora.md" not in sources and "new/fjord.md" in sources


def _ids_of(ws, embedder, source: str) -> set[str]:
    docs, _ = load_documents(docs_dir(ws, "ds"))
    doc = next(d for d in docs if d.source == source)
    idx = ws.settings.index
    return {c.id for c in chunk_document(doc, version_hash(doc.sha256, ws.settings), embedder.count_tokens, idx.chunk_tokens, idx.chunk_overlap)}


@pytest.mark.parametrize("fail_after", [0, 1, 3, 6])
def test_interrupted_build_converges_on_rerun(ws, fail_after):
    with pytest.raises(KeyboardInterrupt):
        build_index(ws, "ds", embedder=CountingEmbedder(fail_after=fail_after))
    report = build_index(ws, "ds", embedder=CountingEmbedder())
    assert_exact(ws, FakeEmbedder())
    assert report.chunks_total == len(expected_ids(ws, FakeEmbedder()))


def test_interrupted_update_converges_on_rerun(ws):
    build_index(ws, "ds", embedder=CountingEmbedder())
    docs = ws.root / "corpora" / "ds" / "docs"
    for topic, seed in (("cobalt", 70), ("dynamo", 71)):
        (docs / f"{topic}.md").write_text(_doc(topic, seed, sections=4), encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build_index(ws, "ds", embedder=CountingEmbedder(fail_after=2))
    build_index(ws, "ds", embedder=CountingEmbedder())
    assert_exact(ws, FakeEmbedder())


def test_chunk_settings_change_rechunks(ws):
    build_index(ws, "ds", embedder=FakeEmbedder())
    (ws.root / "sandbox.toml").write_text("[index]\nchunk_tokens = 25\nchunk_overlap = 5\n")
    ws2 = load_workspace(ws.root)
    report = build_index(ws2, "ds", embedder=FakeEmbedder())
    assert report.chunks_added == report.chunks_total > 0
    assert_exact(ws2, FakeEmbedder())


def test_retriever_modes_find_the_right_document(ws):
    build_index(ws, "ds", embedder=FakeEmbedder())
    for mode in ("hybrid", "vector", "bm25"):
        retriever = Retriever(ws, "ds", embedder=FakeEmbedder(), mode=mode)
        hits = retriever.search("dynamo turbine valve", k=3)
        assert len(hits) == 3, mode
        assert hits[0].source == "dynamo.md", mode
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].heading.startswith("Dynamo guide") and hits[0].text
        assert hits[0].chunk_id in expected_ids(ws, FakeEmbedder())
    nested = Retriever(ws, "ds", embedder=FakeEmbedder()).search("ember", k=1)[0]
    assert nested.source == "team/ember notes.txt"
    assert set(nested.contract()) == {"source", "chunk_id", "text", "score"}


def test_search_many_keeps_order_and_handles_stopword_queries(ws):
    build_index(ws, "ds", embedder=FakeEmbedder())
    retriever = Retriever(ws, "ds", embedder=FakeEmbedder())
    results = retriever.search_many(["cobalt", "aurora", "the of and"], k=2)
    assert [r[0].source for r in results[:2]] == ["cobalt.md", "aurora.md"]
    assert len(results[2]) == 2  # no keywords left: the vector side still answers


def test_bm25_cache_is_reused_and_follows_content(ws):
    build_index(ws, "ds", embedder=FakeEmbedder())
    cache = sorted((ws.state_dir / "bm25").iterdir())
    assert len(cache) == 1, "indexing builds the BM25 cache, so the first query does not"
    Retriever(ws, "ds", embedder=FakeEmbedder())
    assert sorted((ws.state_dir / "bm25").iterdir()) == cache
    stamp = (cache[0] / "ids.json").stat().st_mtime_ns
    Retriever(ws, "ds", embedder=FakeEmbedder())
    assert (cache[0] / "ids.json").stat().st_mtime_ns == stamp, "unchanged content reuses the cache"

    (ws.root / "corpora" / "ds" / "docs" / "glacier.md").write_text(_doc("glacier", 11), encoding="utf-8")
    build_index(ws, "ds", embedder=FakeEmbedder())
    hits = Retriever(ws, "ds", embedder=FakeEmbedder(), mode="bm25").search("glacier", k=1)
    assert hits[0].source == "glacier.md"
    after = sorted((ws.state_dir / "bm25").iterdir())
    assert len(after) == 1 and after != cache, "a content change builds a new cache and drops the old one"


def test_embedder_mismatch_is_a_clear_error(ws):
    build_index(ws, "ds", embedder=FakeEmbedder(dim=64))
    with pytest.raises(IndexStateError) as err:
        Retriever(ws, "ds", embedder=FakeEmbedder(dim=32))
    assert "fake-bow-64" in str(err.value) and "--rebuild" in str(err.value)
    with pytest.raises(IndexStateError):
        build_index(ws, "ds", embedder=FakeEmbedder(dim=32))
    report = build_index(ws, "ds", rebuild=True, embedder=FakeEmbedder(dim=32))
    assert report.chunks_added == report.chunks_total
    assert Retriever(ws, "ds", embedder=FakeEmbedder(dim=32)).search("basalt", k=1)[0].source == "basalt.md"


def test_missing_index_says_how_to_build_it(ws):
    with pytest.raises(IndexStateError) as err:
        Retriever(ws, "ds", embedder=FakeEmbedder())
    assert "sandbox index ds" in str(err.value)


def test_missing_docs_folder_is_a_data_error(workspace_dir):
    (workspace_dir / "corpora" / "nodocs").mkdir()
    from sandbox.errors import DataError

    with pytest.raises(DataError) as err:
        build_index(load_workspace(workspace_dir), "nodocs", embedder=FakeEmbedder())
    assert "docs" in str(err.value)


def test_datasets_are_separate_collections(ws):
    other = ws.root / "corpora" / "other" / "docs"
    other.mkdir(parents=True)
    (other / "x.md").write_text(_doc("xenon", 3), encoding="utf-8")
    build_index(ws, "ds", embedder=FakeEmbedder())
    report = build_index(ws, "other", embedder=FakeEmbedder())
    assert report.chunks_total == report.chunks_added
    assert {h.source for h in Retriever(ws, "other", embedder=FakeEmbedder()).search("aurora", k=5)} == {"x.md"}


def test_unchanged_documents_are_not_even_parsed(ws, monkeypatch):
    import sandbox.index

    build_index(ws, "ds", embedder=FakeEmbedder())
    parsed = []
    real = sandbox.index.parse_document
    monkeypatch.setattr(sandbox.index, "parse_document", lambda *a: parsed.append(a[1]) or real(*a))
    (ws.root / "corpora" / "ds" / "docs" / "cobalt.md").write_text(_doc("cobalt", 99), encoding="utf-8")
    build_index(ws, "ds", embedder=FakeEmbedder())
    assert parsed == ["cobalt.md"]


def test_document_that_becomes_unreadable_loses_its_chunks(ws):
    build_index(ws, "ds", embedder=FakeEmbedder())
    (ws.root / "corpora" / "ds" / "docs" / "basalt.md").write_bytes(b"\x00\x01binary now" * 10)
    report = build_index(ws, "ds", embedder=FakeEmbedder())
    assert "basalt.md" in {s.source for s in report.skipped}
    assert report.documents == 4 and report.chunks_removed > 0
    assert_exact(ws, FakeEmbedder())


def test_rrf_rewards_agreement_and_is_deterministic():
    from sandbox.retrieval import rrf

    vector = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    keyword = [("c", 12.0), ("b", 9.0), ("d", 1.0)]
    fused = rrf([vector, keyword], (1.0, 1.0), 10)
    assert {cid for cid, _ in fused[:2]} == {"b", "c"}  # on both lists beats first on only one
    assert fused == rrf([vector, keyword], (1.0, 1.0), 10)
    assert [cid for cid, _ in rrf([vector, keyword], (1.0, 0.0), 10)][:3] == ["a", "b", "c"]
    tie = rrf([[("y", 1.0)], [("x", 1.0)]], (1.0, 1.0), 10)
    assert [cid for cid, _ in tie] == ["x", "y"]


def test_shared_retriever_follows_a_reindex(ws):
    """The app keeps one retriever per dataset; documents indexed later (here or by another
    process) must be searchable without restarting it."""
    from sandbox.pipelines import Resources

    build_index(ws, "ds", embedder=FakeEmbedder())
    resources = Resources(ws, embedder=FakeEmbedder())
    first = resources.retriever("ds")
    assert resources.retriever("ds") is first  # unchanged index: reused, not reloaded
    (ws.dataset_dir("ds") / "docs" / "zephyr.md").write_text(_doc("zephyr", 42), encoding="utf-8")
    build_index(ws, "ds", embedder=FakeEmbedder())
    fresh = resources.retriever("ds")
    assert fresh is not first
    assert fresh.search("zephyr", k=1)[0].source == "zephyr.md"
