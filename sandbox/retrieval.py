"""Hybrid retrieval over a dataset's index: vectors (Chroma) + BM25, fused by RRF.

Reciprocal rank fusion (Cormack et al., 2009) adds ``weight / (rrf_k + rank)`` per
method, so scores on different scales (cosine, BM25) need no calibration. The BM25
index is cached on disk under ``.sandbox/bm25/`` keyed by a fingerprint of the
collection's chunk ids (which embed each document's content hash): unchanged content
reuses it across processes, any change builds a new one. A ``Retriever`` loads once
and answers many queries.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from pathlib import Path
from typing import Literal, Optional

import numpy as np
from pydantic import BaseModel

from sandbox.chunking import with_context
from sandbox.embeddings import encode_queries, get_embedder
from sandbox.errors import IndexStateError
from sandbox.files import atomic_dir
from sandbox.metrics import s_stem
from sandbox.vectorstore import client, collection_name, get_all, open_collections

Mode = Literal["hybrid", "vector", "bm25"]
# RRF's constant damps the gap between neighbouring ranks. Cormack et al.'s 60 was set for
# fusing many deep (1000-long) TREC runs; with two lists of which only the top few are used,
# a smaller constant lets a strong first place on either side count. Equal weights: no side is
# favoured a priori. benchmarks/bench_index.py shows the choice is flat for 1-30 (RESULTS.md).
RRF_K = 10
MODES: tuple[str, ...] = ("hybrid", "vector", "bm25")


class Hit(BaseModel):
    source: str
    chunk_id: str
    text: str
    score: float
    title: str = ""
    heading: str = ""
    start: int = 0
    end: int = 0

    def contract(self) -> dict:
        """The ``search --json`` hit shape."""
        return {"source": self.source, "chunk_id": self.chunk_id, "text": self.text, "score": self.score}


# ---------------------------------------------------------------- BM25 tokens

_TOKEN = re.compile(r"\w+", re.UNICODE)


def bm25_tokens(text: str) -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    stop = set(STOPWORDS_EN)
    return [s_stem(w) for w in (t.lower() for t in _TOKEN.findall(text)) if w not in stop]


def search_text(document: str, meta: dict) -> str:
    """A stored chunk as it was embedded (``Chunk.embed_text()``): under its title and heading path."""
    return with_context(document, meta.get("title", ""), str(meta.get("heading", "")))


# ---------------------------------------------------------------- the BM25 cache


def _cache_root(workspace) -> Path:
    return workspace.state_dir / "bm25"


def clear_bm25_cache(workspace, name: str) -> None:
    for path in _cache_root(workspace).glob(f"{name}-*"):
        shutil.rmtree(path, ignore_errors=True)


def _cache_folder(workspace, name: str, ids: list[str]) -> Path:
    fingerprint = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:20]
    return _cache_root(workspace) / f"{name}-{fingerprint}"


def index_version(workspace, dataset: str) -> str:
    """A cheap token that changes whenever the dataset's content is re-indexed (the BM25 cache's
    fingerprint, rewritten by every `sandbox index` that changes something)."""
    name = collection_name(workspace, dataset)
    return ",".join(sorted(p.name for p in _cache_root(workspace).glob(f"{name}-*") if not p.name.endswith(".tmp")))


def warm_bm25_cache(workspace, name: str, chunks_col) -> None:
    """Build the BM25 cache right after indexing, so the first query does not pay for it."""
    ids = get_all(chunks_col, [])["ids"]
    if ids and not (_cache_folder(workspace, name, ids) / "ids.json").is_file():
        _load_or_build_bm25(workspace, name, chunks_col, ids)


def _load_or_build_bm25(workspace, name: str, chunks_col, ids: list[str]):
    """(bm25s.BM25, ids in BM25 row order), from the cache when the content is unchanged."""
    import bm25s

    folder = _cache_folder(workspace, name, ids)
    if (folder / "ids.json").is_file():
        try:
            return bm25s.BM25.load(str(folder)), json.loads((folder / "ids.json").read_text())
        except (OSError, ValueError, KeyError):
            shutil.rmtree(folder, ignore_errors=True)  # a damaged cache is rebuilt, not fatal
    rows = get_all(chunks_col, ["documents", "metadatas"])
    model = bm25s.BM25()
    model.index([bm25_tokens(search_text(d or "", m or {})) for d, m in zip(rows["documents"], rows["metadatas"])], show_progress=False)
    clear_bm25_cache(workspace, name)  # older versions of this collection are dead weight
    with atomic_dir(folder) as tmp:  # readers never see a half-written cache
        model.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(rows["ids"]))
    return model, rows["ids"]


# ---------------------------------------------------------------- fusion

Ranking = list[tuple[str, float]]  # (chunk id, score), best first


def rrf(rankings: list[Ranking], weights: tuple[float, ...], rrf_k: float = RRF_K) -> Ranking:
    """Reciprocal rank fusion: each list adds ``weight / (rrf_k + rank)``; ties break by id."""
    fused: dict[str, float] = {}
    for weight, ranking in zip(weights, rankings):
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (rrf_k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


# ---------------------------------------------------------------- the retriever


class Retriever:
    """Search one dataset's index. Load once (model, collection, BM25), query many times."""

    def __init__(
        self,
        workspace,
        dataset: Optional[str] = None,
        embedder=None,
        mode: Mode = "hybrid",
        rrf_k: float = RRF_K,
        weights: tuple[float, float] = (1.0, 1.0),
        candidates: int = 50,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.dataset = workspace.dataset_dir(dataset).name
        self.mode, self.rrf_k, self.weights, self.candidates = mode, rrf_k, weights, candidates
        self.embedder = embedder or get_embedder(workspace.settings)
        name = collection_name(workspace, self.dataset)
        self.collection, _ = open_collections(client(workspace), name, self.embedder, create=False, dataset=self.dataset)
        ids = get_all(self.collection, [])["ids"]
        if not ids:
            raise IndexStateError(
                f"The index of dataset {self.dataset!r} is empty.",
                f"Add documents to corpora/{self.dataset}/docs/ and run `sandbox index {self.dataset}`.",
            )
        self.size = len(ids)
        self._bm25, self._bm25_ids = (None, [])
        if mode != "vector":
            self._bm25, self._bm25_ids = _load_or_build_bm25(workspace, name, self.collection, ids)
        self.version = index_version(workspace, self.dataset)
        self._lock = threading.Lock()  # bm25s and the tokenizer are not documented thread-safe

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        vector, keyword = self.rankings(queries, min(max(self.candidates, k), self.size))
        results = []
        for vec, kw in zip(vector, keyword):
            if self.mode == "vector":
                ranked = vec[:k]
            elif self.mode == "bm25":
                ranked = kw[:k]
            else:
                ranked = rrf([vec, kw], self.weights, self.rrf_k)[:k]
            results.append(ranked)
        return self._hydrate(results)

    def rankings(self, queries: list[str], n: int) -> tuple[list[Ranking], list[Ranking]]:
        """Per query, the top-``n`` (chunk id, score) lists of the vector and the BM25 side
        (empty for a side this retriever's mode does not use)."""
        vector = self._vector(queries, n) if self.mode != "bm25" else [[] for _ in queries]
        with self._lock:
            keyword = [self._keyword(q, n) for q in queries] if self.mode != "vector" else [[] for _ in queries]
        return vector, keyword

    def _vector(self, queries: list[str], n: int) -> list[Ranking]:
        with self._lock:
            vectors = encode_queries(self.embedder, queries)  # cached: few-shot selection embeds the question too
        found = self.collection.query(query_embeddings=vectors, n_results=n, include=["distances"])
        return [[(i, 1.0 - d) for i, d in zip(ids, dists)] for ids, dists in zip(found["ids"], found["distances"])]

    def _keyword(self, query: str, n: int) -> Ranking:
        tokens = bm25_tokens(query)
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._bm25_ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def _hydrate(self, results: list[Ranking]) -> list[list[Hit]]:
        wanted = sorted({chunk_id for ranked in results for chunk_id, _ in ranked})
        rows = self.collection.get(ids=wanted, include=["documents", "metadatas"]) if wanted else {"ids": []}
        by_id = {i: (d, m) for i, d, m in zip(rows["ids"], rows.get("documents") or [], rows.get("metadatas") or [])}
        out = []
        for ranked in results:
            hits = []
            for chunk_id, score in ranked:
                if chunk_id not in by_id:
                    continue  # removed by a concurrent re-index since the BM25 cache was loaded
                text, meta = by_id[chunk_id]
                hits.append(
                    Hit(
                        source=meta["source"],
                        chunk_id=chunk_id,
                        text=text or "",
                        score=round(float(score), 6),
                        title=meta.get("title", ""),
                        heading=meta.get("heading", ""),
                        start=int(meta.get("start", 0)),
                        end=int(meta.get("end", 0)),
                    )
                )
            out.append(hits)
        return out
