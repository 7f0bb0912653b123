"""Any pipeline as a langchain-core ``Runnable``, for teams that call sandbox from their own LangChain code.

    from sandbox.runnable import PipelineRunnable

    rag = PipelineRunnable("rag", workspace="my-workspace", dataset="handbook")
    rag.invoke("How many days of leave do I get?")    # the answer, a str
    for piece in rag.stream("..."): ...              # the answer as it is generated
    await rag.ainvoke("..."); rag.batch(["...", "..."]); chain = rag | StrOutputParser()

Each call runs that one pipeline through ``sandbox.compare.stream_compare``, as ``sandbox ask`` and the
app do: the same prompt, endpoint, measuring, and a run recorded in the workspace's store with origin
``"langchain"`` (``record=False``: not recorded). The input is the question, or a dict with
``"question"`` (and optionally ``"reference"``, ``"question_id"``; other keys are ignored). A failed run is recorded with its
error and raised as ``PipelineError``. It is a ``RunnableGenerator``, so callbacks, tracing, ``batch``,
``astream_events`` and ``|`` come from langchain-core; only the sync-over-async bridge is ours.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableGenerator

from sandbox.compare import Delta, check_pipelines, stream_compare
from sandbox.config import Workspace, load_workspace
from sandbox.errors import ConfigError, PipelineError
from sandbox.pipelines import Resources
from sandbox.store import open_store

Question = str | dict[str, Any]
_END = object()


class PipelineRunnable(RunnableGenerator):
    """One sandbox pipeline on one dataset; str (or {"question": ...}) in, the answer (str) out."""

    def __init__(self, pipeline: str, workspace: Workspace | str | Path = ".", dataset: str | None = None, *,
                 record: bool = True, resources: Resources | None = None):
        self.pipeline = check_pipelines([pipeline])[0]
        self.workspace = workspace if isinstance(workspace, Workspace) else load_workspace(workspace)
        self.dataset = self.workspace.dataset_dir(dataset).name
        self.store = open_store(self.workspace) if record else None
        self.resources = resources  # None: the workspace's shared ones (models load once per process)
        super().__init__(self._stream_sync, self._stream_async, name=f"sandbox-{self.pipeline}")

    async def answer(self, question: Question) -> AsyncIterator[str]:
        """The answer to one question, piece by piece as the endpoint streams it."""
        fields = _fields(question)
        streamed = False
        async for item in stream_compare(self.workspace, fields.pop("question"), dataset=self.dataset,
                                         pipelines=[self.pipeline], origin="langchain", store=self.store,
                                         resources=self.resources, **fields):
            if isinstance(item, Delta):
                streamed = True
                yield item.text
                continue
            run = item.record
            if run.error is not None:
                raise PipelineError(f"The {self.pipeline} pipeline failed: {run.error}", run_id=run.id)
            if not streamed and run.response:  # an endpoint that does not stream answers at once
                yield run.response

    async def _stream_async(self, inputs: AsyncIterator[Question]) -> AsyncIterator[str]:
        async for piece in self.answer(_whole([chunk async for chunk in inputs])):
            yield piece

    def _stream_sync(self, inputs: Iterator[Question]) -> Iterator[str]:
        """The sync face: the async answer on its own event loop in a worker thread, so it also works
        where a loop is running already (a notebook) and streams pieces as they come."""
        pieces: queue.Queue = queue.Queue()
        answer = self.answer(_whole(list(inputs)))

        async def pump() -> None:
            async for piece in answer:
                pieces.put(piece)

        def run() -> None:
            try:
                asyncio.run(pump())
                pieces.put(_END)
            except BaseException as exc:  # handed to the caller's thread, raised there
                pieces.put(exc)

        threading.Thread(target=run, name=f"sandbox-{self.pipeline}", daemon=True).start()
        while (piece := pieces.get()) is not _END:
            if isinstance(piece, BaseException):
                raise piece
            yield piece


def _whole(chunks: list[Question]) -> Question:
    """The input, put back together when an upstream step streamed it in pieces (str or dict chunks)."""
    whole: Any = None
    for chunk in chunks:
        whole = chunk if whole is None else (whole + chunk if isinstance(chunk, str) else {**whole, **chunk})
    return whole


def _fields(question: Question) -> dict[str, Any]:
    if isinstance(question, str):
        return {"question": question}
    if isinstance(question, dict) and isinstance(question.get("question"), str):
        return {key: question[key] for key in ("question", "reference", "question_id") if key in question}
    raise ConfigError(f"A sandbox pipeline takes a question, not {type(question).__name__} {question!r:.80}.",
                      'Pass a str, or a dict with "question" (and optionally "reference", "question_id").')
