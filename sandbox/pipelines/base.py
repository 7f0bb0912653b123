"""What every pipeline shares: its settings, model, the dataset's instruction, and the output shape.

A pipeline only *prepares* a call (the prompt messages, the model, any retrieved contexts);
``sandbox.compare`` sends it to the endpoint, measures it and records it. ``prepare`` may block
(embedding, retrieval), so compare runs it in a worker thread.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, Field

from sandbox.config import PipelineConfig, Workspace
from sandbox.custom_retriever import load_retriever
from sandbox.embeddings import get_embedder
from sandbox.examples import Example, dataset_examples, load_examples, shared_system
from sandbox.prompts import Prompt, load_prompt
from sandbox.records import Context, Evidence
from sandbox.retrieval import Retriever, index_version


class PreparedChat(BaseModel):
    """A call ready to send: messages for ``model``, plus what was retrieved to build them."""

    messages: list[dict[str, Any]]
    model: str
    contexts: list[Context] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


class Resources:
    """Heavy shared objects (the embedder, one retriever per dataset), built lazily, once.

    The retriever is the dataset's index, or the team's own when ``[pipelines.rag] retriever`` is set.

    Tests pass fakes in; the CLI and the app keep one per workspace so models load once.
    """

    def __init__(self, workspace: Workspace, *, embedder: Any = None,
                 retriever_factory: Callable[[Workspace, str], Any] | None = None):
        self.workspace = workspace
        self._embedder = embedder
        self._retriever_factory = retriever_factory
        self._retrievers: dict[str, Any] = {}
        self._embedder_lock = threading.Lock()
        self._retriever_lock = threading.Lock()

    def embedder(self) -> Any:
        with self._embedder_lock:  # two pipelines in two threads must not load the model twice
            if self._embedder is None:
                self._embedder = get_embedder(self.workspace.settings)
            return self._embedder

    def retriever(self, dataset: str) -> Any:
        """The dataset's retriever, rebuilt when the dataset was re-indexed since (here or elsewhere)."""
        with self._retriever_lock:
            cached = self._retrievers.get(dataset)
            if cached is not None and getattr(cached, "version", None) not in (None, index_version(self.workspace, dataset)):
                del self._retrievers[dataset]
            if dataset not in self._retrievers:
                if self._retriever_factory is not None:
                    self._retrievers[dataset] = self._retriever_factory(self.workspace, dataset)
                elif spec := self.workspace.settings.pipelines["rag"].retriever:
                    self._retrievers[dataset] = load_retriever(self.workspace, dataset, spec)
                else:
                    self._retrievers[dataset] = Retriever(self.workspace, dataset, embedder=self.embedder())
            return self._retrievers[dataset]


_EXAMPLES: dict[tuple[str, int, int], list[Example]] = {}


def cached_examples(path: Path) -> list[Example]:
    """Examples of a file, parsed once per version of the file."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _EXAMPLES:
        _EXAMPLES.clear()  # keep only the newest versions; files are small but may be edited often
        _EXAMPLES[key] = load_examples(path)
    return _EXAMPLES[key]


class Pipeline(ABC):
    name: ClassVar[str]
    prompt_name: ClassVar[str]
    settings_keys: ClassVar[tuple[str, ...]] = ()  # [pipelines.X] keys beyond the shared ones that change answers

    def __init__(self, workspace: Workspace, dataset: str, resources: Resources):
        self.workspace = workspace
        self.dataset = dataset
        self.resources = resources

    @property
    def config(self) -> PipelineConfig:
        return self.workspace.settings.pipelines[self.name]

    @property
    def dataset_dir(self) -> Path:
        return self.workspace.dataset_dir(self.dataset)

    def model(self) -> str:
        return self.workspace.settings.model_for(self.name, self.dataset)

    def prompt(self) -> Prompt:
        return load_prompt(self.workspace.prompts_dir, self.prompt_name)

    def examples(self) -> list[Example]:
        path = dataset_examples(self.dataset_dir)
        return cached_examples(path) if path else []

    def instruction(self) -> str:
        """The system message the dataset's examples share: the task in the team's own words."""
        return shared_system(self.examples())

    def load(self) -> None:
        """Load once per process what ``prepare`` needs (models, indexes); compare does it before any call."""

    @abstractmethod
    def prepare(self, question: str) -> PreparedChat:
        """Build the call for ``question``; raise a SandboxError whose hint says how to fix it."""

    @abstractmethod
    def prompt_messages(self, question: str, contexts: list[Context] | None = None) -> list[dict[str, str]]:
        """The messages this pipeline sends for ``question`` (the fine-tuning and pairs exports train on exactly
        these); RAG uses ``contexts`` when given (what a stored run was shown) instead of retrieving again."""
