"""Build a dataset's searchable index: documents → chunks → vectors in Chroma.

Incremental and crash-safe. Each document version has a hash (file bytes + chunking
settings); chunk ids are derived from source + hash + ordinal, and a per-document
"complete" marker is written only after all its chunks are stored. A run therefore
(1) keeps documents whose marker matches, (2) deletes every chunk that does not belong
to a complete current version — deleted files, old versions, half-written documents —
and (3) (re)embeds the rest. Killing it at any moment and running again converges on
exactly the chunks a clean build produces.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Optional

from pydantic import BaseModel

from sandbox.chunking import CHUNKER_VERSION, Chunk, chunk_document
from sandbox.corpus import Document, Skipped, guarded, list_files, parse_document, read_source
from sandbox.embeddings import get_embedder
from sandbox.errors import DataError
from sandbox.retrieval import clear_bm25_cache, warm_bm25_cache
from sandbox.vectorstore import client, collection_name, drop_collections, get_all, open_collections

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


class IndexReport(BaseModel):
    """``model_dump()`` is the ``sandbox index --json`` shape."""

    dataset: str
    documents: int
    chunks_added: int
    chunks_removed: int
    chunks_total: int
    skipped: list[Skipped]
    seconds: float


def docs_dir(workspace, dataset: str) -> Path:
    path = workspace.dataset_dir(dataset) / "docs"
    if not path.is_dir():
        raise DataError(path, "no docs/ folder in this dataset.", f"Put the documents to index in {path}/.")
    return path


def version_hash(sha256: str, settings) -> str:
    """Changes when the file's bytes or the way it is chunked change, so either re-indexes it."""
    idx = settings.index
    key = f"{sha256}|{idx.chunk_tokens}|{idx.chunk_overlap}|{CHUNKER_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _marker_id(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


def build_index(
    workspace,
    dataset: str,
    rebuild: bool = False,
    progress: Optional[Progress] = None,
    embedder=None,
) -> IndexReport:
    started = time.perf_counter()
    folder = docs_dir(workspace, dataset)
    embedder = embedder or get_embedder(workspace.settings)
    chroma = client(workspace)
    name = collection_name(workspace, dataset)
    if rebuild:
        drop_collections(chroma, name)
        clear_bm25_cache(workspace, name)
    chunks_col, markers_col = open_collections(chroma, name, embedder, create=True, dataset=dataset)

    # Hash raw bytes first: documents whose complete marker matches are never parsed again.
    files, skipped = _read_files(folder, int(workspace.settings.index.max_file_mb * 1_000_000))
    current = {source: version_hash(hashlib.sha256(data).hexdigest(), workspace.settings) for source, (_, data) in files.items()}

    stored = get_all(chunks_col, ["metadatas"])
    versions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # source → hash → chunks
    for meta in stored["metadatas"]:
        versions[meta["source"]][meta["doc_hash"]] += 1
    markers = get_all(markers_col, ["metadatas"])
    complete = {
        m["source"]
        for m in markers["metadatas"]
        if current.get(m["source"]) == m["doc_hash"]
        and dict(versions.get(m["source"], {})) == ({m["doc_hash"]: m["chunks"]} if m["chunks"] else {})
    }
    todo = []
    for source, (path, data) in files.items():
        if source not in complete:
            doc = guarded(source, lambda: parse_document(path, source, data, workspace.settings.limits), skipped.append)
            if doc is None:
                del current[source]  # unreadable now: any chunks from an older version go too
            else:
                todo.append(doc)
    per_doc = _chunk_all(todo, current, workspace.settings, embedder, skipped)
    skipped.sort(key=lambda s: s.source)

    # Markers go first: a crash after this point leaves documents unmarked, hence redone.
    stale_markers = [i for i, m in zip(markers["ids"], markers["metadatas"]) if m["source"] not in complete]
    _delete(markers_col, stale_markers)
    stale_chunks = [i for i, m in zip(stored["ids"], stored["metadatas"]) if m["source"] not in complete]
    _delete(chunks_col, stale_chunks)

    added = _embed_and_store(per_doc, current, workspace.settings, embedder, chunks_col, markers_col, progress)
    warm_bm25_cache(workspace, name, chunks_col)
    return IndexReport(
        dataset=dataset,
        documents=len(current),
        chunks_added=added,
        chunks_removed=len(stale_chunks),
        chunks_total=chunks_col.count(),
        skipped=skipped,
        seconds=round(time.perf_counter() - started, 3),
    )


def _read_files(folder: Path, max_bytes: int) -> tuple[dict[str, tuple[Path, bytes]], list[Skipped]]:
    skipped: list[Skipped] = []
    files = {}
    for path in list_files(folder):
        source = path.relative_to(folder).as_posix()
        data = guarded(source, lambda: read_source(path, max_bytes), skipped.append)
        if data is not None:
            files[source] = (path, data)
    return files, skipped


def _delete(collection, ids: list[str]) -> None:
    for i in range(0, len(ids), 5000):
        collection.delete(ids=ids[i : i + 5000])


def _chunk_all(todo, current, settings, embedder, skipped) -> list[tuple[Document, list[Chunk]]]:
    """Each document's chunks; one with more than [limits] chunks_per_doc is skipped (and reported), unembedded."""
    idx, limit = settings.index, settings.limits.chunks_per_doc
    per_doc: list[tuple[Document, list[Chunk]]] = []
    for doc in todo:
        chunks = chunk_document(
            doc, current[doc.source], embedder.count_tokens, idx.chunk_tokens, idx.chunk_overlap, embedder.max_tokens
        )
        if len(chunks) > limit:
            skipped.append(Skipped(source=doc.source, reason=f"{doc.source}: {len(chunks):,} chunks, over the "
                                   f"{limit:,} limit (split the file, or raise [limits] chunks_per_doc)"))
            del current[doc.source]
        else:
            per_doc.append((doc, chunks))
    return per_doc


def _embed_and_store(per_doc, current, settings, embedder, chunks_col, markers_col, progress) -> int:
    idx = settings.index
    total = sum(len(c) for _, c in per_doc)
    if progress:
        progress(0, total)
    # Embed in groups of several batches: the model sorts each call's texts by length,
    # so bigger calls waste less padding; a crash loses at most one group's work.
    group = max(1, idx.batch_size) * 8
    pending: list[Chunk] = []
    waiting: list[tuple[str, str, int]] = []  # documents whose chunks are (partly) pending
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    for doc, chunks in per_doc:
        pending += chunks
        waiting.append((doc.source, current[doc.source], len(chunks)))
        while len(pending) >= group:
            _store(pending[:group], embedder, chunks_col, idx.batch_size, advance)
            pending = pending[group:]
            waiting = _mark_finished(waiting, pending, markers_col)
    _store(pending, embedder, chunks_col, idx.batch_size, advance)
    _mark_finished(waiting, [], markers_col)
    return done


def _store(chunks: list[Chunk], embedder, chunks_col, batch_size: int, advance: Callable[[int], None]) -> None:
    if not chunks:
        return
    import numpy as np

    # Longest first, as sentence-transformers does inside one call: batches of similar
    # length waste little padding, and encoding batch by batch lets the bar move.
    texts = [c.embed_text() for c in chunks]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for i in range(0, len(order), batch_size):
        rows = order[i : i + batch_size]
        vectors[rows] = embedder.encode([texts[j] for j in rows], batch_size=batch_size)
        advance(len(rows))
    chunks_col.upsert(
        ids=[c.id for c in chunks],
        embeddings=vectors,
        documents=[c.text for c in chunks],
        metadatas=[
            {
                "source": c.source,
                "doc_hash": c.doc_hash,
                "ordinal": c.ordinal,
                "title": c.title,
                "heading": c.heading,
                "start": c.start,
                "end": c.end,
            }
            for c in chunks
        ],
    )


def _mark_finished(waiting: list[tuple[str, str, int]], pending: list[Chunk], markers_col):
    """Write markers for documents none of whose chunks are still pending; return the rest.

    ``waiting`` holds (source, version hash, number of chunks) per document."""
    unfinished = {c.source for c in pending}
    finished = [w for w in waiting if w[0] not in unfinished]
    if finished:
        markers_col.upsert(
            ids=[_marker_id(source) for source, _, _ in finished],
            embeddings=[[1.0]] * len(finished),  # markers are looked up by id, never by vector
            metadatas=[{"source": source, "doc_hash": h, "chunks": n} for source, h, n in finished],
        )
    return [w for w in waiting if w[0] in unfinished]


from sandbox.retrieval import Hit, Retriever  # noqa: E402  (re-exported: the documented interface)

__all__ = ["IndexReport", "build_index", "Hit", "Retriever"]
