"""A team's own LangChain retriever in the rag pipeline: ``[pipelines.rag] retriever = "module:factory"``.

The factory is called once per dataset and process as ``factory(workspace, dataset)``: a
``sandbox.config.Workspace`` (``.settings``, ``.root``, ``.dataset_dir(dataset)``) and the dataset's
name. It returns a langchain-core ``BaseRetriever``. For each question the retriever's first ``k``
documents become the RAG contexts, exactly as hits from the built-in index do: text =
``page_content``, source = ``metadata["source"]`` (else the document's id), score =
``metadata["score"]`` or ``metadata["relevance_score"]`` when present; ``context = "sentences"`` picks
evidence sentences from them as from index chunks. The module is imported from the Python path, else
from the workspace folder (``my_retriever.py`` next to ``sandbox.toml``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from sandbox.errors import ConfigError, SandboxError
from sandbox.retrieval import Hit

SETTING = "[pipelines.rag] retriever"
UNSET = "Empty the setting to use the dataset's own index (`sandbox index`)."


class CustomRetriever:
    """The built-in retriever's ``search`` surface over a langchain-core ``BaseRetriever``."""

    def __init__(self, retriever: Any, spec: str):
        self.retriever, self.spec = retriever, spec

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        try:
            found = self.retriever.batch(queries)
        except SandboxError:
            raise
        except Exception as exc:  # the team's code: say whose it is and how to get going again
            raise ConfigError(f"The retriever of {SETTING} = {self.spec!r} failed: {type(exc).__name__}: {exc}",
                              f"Fix the retriever. {UNSET}") from exc
        return [[_hit(document) for document in documents[:k]] for documents in found]


def _hit(document: Any) -> Hit:
    meta = document.metadata or {}
    score = next((meta[key] for key in ("score", "relevance_score") if isinstance(meta.get(key), (int, float))), 0.0)
    return Hit(source=str(meta.get("source") or document.id or ""), chunk_id=str(document.id or ""),
               text=document.page_content, score=float(score))


def load_retriever(workspace, dataset: str, spec: str) -> CustomRetriever:
    """The retriever ``spec`` ("module:factory") makes for ``dataset``; a ConfigError naming the setting if it cannot."""
    from langchain_core.retrievers import BaseRetriever  # langchain-core: only when a workspace asks for it

    factory = _factory(workspace, spec)
    try:
        retriever = factory(workspace, dataset)
    except SandboxError:
        raise
    except Exception as exc:
        raise ConfigError(f"{SETTING} = {spec!r}: the factory failed for dataset {dataset!r}: {type(exc).__name__}: {exc}",
                          f"Fix the factory (it is called as factory(workspace, dataset)). {UNSET}") from exc
    if not isinstance(retriever, BaseRetriever):
        raise ConfigError(f"{SETTING} = {spec!r} returned a {type(retriever).__name__}, not a langchain-core BaseRetriever.",
                          "Return a retriever, e.g. vector_store.as_retriever(), or subclass "
                          "langchain_core.retrievers.BaseRetriever.")
    return CustomRetriever(retriever, spec)


def _factory(workspace, spec: str) -> Callable[..., Any]:
    module_name, _, name = spec.partition(":")
    root = str(workspace.root)
    if root not in sys.path:
        sys.path.append(root)  # after the Python path: a workspace file never shadows an installed module
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"{SETTING} = {spec!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}",
                          f"Put {module_name.replace('.', '/')}.py in {root} or on PYTHONPATH, and make it import "
                          f"cleanly. {UNSET}") from exc
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ConfigError(f"{SETTING} = {spec!r}: {module_name} has no function {name!r}.",
                          f"Define def {name}(workspace, dataset) in {module_name}, returning a BaseRetriever.")
    return factory
