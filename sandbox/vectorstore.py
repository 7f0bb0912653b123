"""Chroma access shared by indexing and retrieval: client, collections, embedder record.

One dataset = two collections: ``<name>`` holds the chunks (our own vectors, cosine
space), ``<name>.docs`` holds one "complete" marker per document, written only after
all of that document's chunks are in. Both record which embedder built them.
Embedded ``PersistentClient`` under ``.sandbox/chroma`` by default; ``HttpClient`` when
``[index] chroma_url`` points at a ``chroma run`` server.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlparse

from sandbox.errors import ConfigError, IndexStateError

PAGE = 5000  # rows per Chroma get(), to keep memory flat on big collections


class MissingIndex(IndexStateError):
    """The dataset has never been indexed (on this Chroma)."""


def _register_embedding_function():
    """A named, explicit embedding function, so Chroma never falls back to its default
    one (which downloads an ONNX model). We always pass our own vectors; it only records
    which embedder built the collection."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class SandboxEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self, embedder_name: str, embedder: Any = None):
            self.embedder_name = embedder_name
            self.embedder = embedder

        def __call__(self, input: Documents) -> Embeddings:
            if self.embedder is None:
                raise IndexStateError(
                    f"No embedder loaded for {self.embedder_name}.", "Query through sandbox.index.Retriever."
                )
            return list(self.embedder.encode(list(input)))

        @staticmethod
        def name() -> str:
            return "sandbox"

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> "SandboxEmbeddingFunction":
            return SandboxEmbeddingFunction(config.get("embedder", ""))

        def get_config(self) -> dict[str, Any]:
            return {"embedder": self.embedder_name}

        def default_space(self) -> str:
            return "cosine"

    return SandboxEmbeddingFunction


_EF_CLASS = None


def embedding_function(embedder: Any):
    return _ef_class()(embedder.name, embedder)


def _ef_class():
    global _EF_CLASS  # one registration per process; chromadb keeps a global registry anyway
    if _EF_CLASS is None:
        _EF_CLASS = _register_embedding_function()
    return _EF_CLASS


def source_chunks(workspace, dataset: str, sources: set[str]) -> dict[str, list[tuple[str, str]]]:
    """source -> [(chunk id, text)] in document order, read from the index without loading the embedder
    (the collection's recorded embedding function is rebuilt from its config, never called)."""
    if not sources:
        return {}
    _ef_class()
    try:
        chunks = client(workspace).get_collection(collection_name(workspace, dataset))
    except Exception as exc:
        if _not_found(exc):
            raise MissingIndex(f"No index for dataset {dataset!r} yet.", f"Run `sandbox index {dataset}` first.") from None
        raise
    rows = chunks.get(where={"source": {"$in": sorted(sources)}}, include=["documents", "metadatas"])
    found = sorted(zip(rows["ids"], rows["documents"] or [], rows["metadatas"] or []),
                   key=lambda r: (r[2]["source"], int(r[2].get("start", 0)), r[0]))
    out: dict[str, list[tuple[str, str]]] = {}
    for chunk_id, text, meta in found:
        out.setdefault(meta["source"], []).append((chunk_id, text or ""))
    return out


def client(workspace):
    """A Chroma client for this workspace: embedded, or HTTP when ``index.chroma_url`` is set."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    url = workspace.settings.index.chroma_url.strip()
    if not url:
        workspace.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(workspace.chroma_dir), settings=settings)
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"[index] chroma_url {url!r} is not an http(s) URL.", 'Use e.g. "http://127.0.0.1:8000".')
    port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    try:
        return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings)
    except Exception as exc:  # chromadb raises bare ValueError/ConnectionError subclasses here
        raise ConfigError(
            f"Cannot reach the Chroma server at {url}: {exc}",
            "Start it with `chroma run --host 127.0.0.1 --port 8000 --path DIR`, or empty [index] chroma_url.",
        ) from exc


def collection_name(workspace, dataset: str) -> str:
    """A valid Chroma name per dataset; on a shared server, also per workspace (or per ``[index] namespace``)."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", dataset).strip("-_") or "dataset"
    if safe != dataset:  # two names that sanitise alike must not share a collection
        safe += "-" + hashlib.sha1(dataset.encode()).hexdigest()[:6]
    name = f"sbx-{safe}"
    index = workspace.settings.index
    if index.chroma_url.strip():  # a server may hold many workspaces; replicas of one name a shared namespace
        name += "-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", index.namespace).strip("-_")
                       or hashlib.sha1(str(workspace.root).encode()).hexdigest()[:8])
    return name[:480]


def _not_found(exc: Exception) -> bool:
    return type(exc).__name__ in ("NotFoundError", "InvalidCollectionException") or "does not exist" in str(exc)


def open_collections(chroma, name: str, embedder, create: bool, dataset: str = "DATASET"):
    """(chunks, markers) collections; raises IndexStateError on a missing index or another embedder."""
    ef = embedding_function(embedder)
    if create:
        meta = {"embedder": embedder.name, "dim": embedder.dim}
        chunks = chroma.get_or_create_collection(
            name, metadata=meta, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}}
        )
        markers = chroma.get_or_create_collection(f"{name}.docs", metadata=meta, embedding_function=ef)
    else:
        try:
            chunks = chroma.get_collection(name, embedding_function=ef)
            markers = chroma.get_collection(f"{name}.docs", embedding_function=ef)
        except Exception as exc:  # chromadb's NotFoundError type differs between client kinds
            if _not_found(exc):
                raise MissingIndex(
                    f"No index for dataset {dataset!r} yet.", f"Run `sandbox index {dataset}` first."
                ) from None
            raise
    built_with = (chunks.metadata or {}).get("embedder")
    if built_with and built_with != embedder.name:
        raise IndexStateError(
            f"The index {name!r} was built with embedder {built_with}, but {embedder.name} is configured.",
            f"Rebuild it with `sandbox index {dataset} --rebuild` (or set [index] embedding_model back).",
        )
    return chunks, markers


def drop_collections(chroma, name: str) -> None:
    for each in (name, f"{name}.docs"):
        try:
            chroma.delete_collection(each)
        except Exception as exc:
            if not _not_found(exc):
                raise


def get_all(collection, include: list[str]) -> dict[str, list]:
    """Every row's id (and the requested fields), paged."""
    out: dict[str, list] = {"ids": [], **{field: [] for field in include}}
    offset = 0
    while True:
        page = collection.get(include=include, limit=PAGE, offset=offset)
        out["ids"] += page["ids"]
        for field in include:
            out[field] += list(page[field] if page[field] is not None else [])
        if len(page["ids"]) < PAGE:
            return out
        offset += PAGE
