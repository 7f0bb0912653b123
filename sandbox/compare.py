"""One question through several pipelines at once: the heart of the product.

Each pipeline runs as its own asyncio task feeding one queue, so answers stream in as they are
generated and each result arrives as soon as its pipeline finishes. A pipeline's failure (no
index, no fine-tuned model, endpoint down, timeout, 429/5xx after retries, a malformed answer)
becomes that record's ``error``; it never delays or breaks the others. Blocking work (embedding,
retrieval, starting the local server, SQLite) runs in threads so it cannot stall the event loop.

One-time loading (the embedder, an index, the local model) and building the prompts happen before
any call of a compare is sent: a thread loading a model holds the GIL for seconds at a time
(imports, C extension start-up), which would starve the event loop and time out another pipeline's
call already in flight. The time a call waited for loading is the record's ``load_s``, never part
of ``latency_s`` (building its own prompt + the call).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sandbox import PIPELINES
from sandbox.config import Workspace
from sandbox.endpoints import ChatEndpoint
from sandbox.errors import ConfigError, SandboxError
from sandbox.pipelines import Resources, pipeline_class
from sandbox.records import RunRecord, new_id, utcnow
from sandbox.store import Store
from sandbox.text import redact


@dataclass(frozen=True)
class Delta:
    """A streamed piece of one pipeline's answer."""

    pipeline: str
    text: str


@dataclass(frozen=True)
class Done:
    """One pipeline finished (``record.error`` says if it failed); stored already when a store was given."""

    record: RunRecord


_RESOURCES: weakref.WeakKeyDictionary[Workspace, Resources] = weakref.WeakKeyDictionary()
_RESOURCES_LOCK = threading.Lock()


def resources_for(workspace: Workspace) -> Resources:
    """The workspace's shared embedder and retrievers, so models load once per process."""
    with _RESOURCES_LOCK:
        if workspace not in _RESOURCES:
            _RESOURCES[workspace] = Resources(workspace)
        return _RESOURCES[workspace]


def check_pipelines(pipelines: Sequence[str]) -> list[str]:
    names = [p.strip() for p in pipelines if p.strip()]
    for name in names:
        pipeline_class(name)  # unknown names are a usage error, raised before anything runs
    if not names:
        raise ConfigError("No pipelines selected.", f"Choose from: {', '.join(PIPELINES)}.")
    if len(set(names)) != len(names):
        raise ConfigError(f"A pipeline is listed twice: {', '.join(names)}.", "List each pipeline once.")
    return names


def check_question_length(workspace: Workspace, question: str) -> None:
    """One question costs work and storage in proportion to its length: [limits] question_chars bounds it."""
    limit = workspace.settings.limits.question_chars
    if len(question) > limit:
        raise ConfigError(f"The question is {len(question):,} characters long; the limit is {limit:,}.",
                          "Shorten it, or raise [limits] question_chars in sandbox.toml.")


async def stream_compare(
    workspace: Workspace,
    question: str,
    *,
    dataset: str | None = None,
    pipelines: Sequence[str] = PIPELINES,
    reference: str | None = None,
    question_id: str = "",
    origin: str = "ask",
    store: Store | None = None,
    resources: Resources | None = None,
    comparison_id: str | None = None,
    limiter: asyncio.Semaphore | None = None,
) -> AsyncIterator[Delta | Done]:
    """Yield ``Delta``s as answers stream and one ``Done`` per pipeline, in finishing order.

    ``limiter``, if given, is held around each endpoint call only (not prompt building), so a
    caller running many compares at once (an eval) limits the calls in flight, not the CPU work.
    """
    if not question.strip():
        raise ConfigError("The question is empty.", "Type a question.")
    check_question_length(workspace, question)
    names = check_pipelines(pipelines)
    dataset = dataset or workspace.dataset_dir().name
    workspace.dataset_dir(dataset)  # a missing dataset is the caller's mistake: raise now
    resources = resources or resources_for(workspace)
    base = RunRecord(pipeline=names[0], user_input=question, reference=reference, dataset=dataset,
                     question_id=question_id, origin=origin, comparison_id=comparison_id or new_id())
    queue: asyncio.Queue[Delta | Done] = asyncio.Queue()
    loaded = _Gate(len(names))
    tasks = [
        asyncio.create_task(_run_one(workspace, name, base.model_copy(update={"pipeline": name, "id": new_id()}),
                                     resources, store, queue, loaded, limiter))
        for name in names
    ]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            remaining -= isinstance(item, Done)
            yield item
    finally:  # the consumer stopped early (closed tab, Ctrl-C): don't leave calls running
        for task in tasks:
            task.cancel()


class _Gate:
    """Opens once every pipeline of one compare has loaded (or failed to): then the calls go."""

    def __init__(self, count: int):
        self.left = count
        self.opened = asyncio.Event()

    async def arrive(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.opened.set()
        await self.opened.wait()


def _load_and_prepare(workspace: Workspace, name: str, pipeline, question: str, marks: dict[str, float]):
    """One-time loading (the pipeline's models and index, the endpoint and its model), then the prompt."""
    pipeline.load()
    endpoint = ChatEndpoint.for_pipeline(workspace, name)
    endpoint.load()
    marks["loaded"] = time.perf_counter()
    return endpoint, pipeline.prepare(question)


async def _run_one(workspace: Workspace, name: str, record: RunRecord, resources: Resources, store: Store | None,
                   queue: asyncio.Queue, loaded: _Gate, limiter: asyncio.Semaphore | None = None) -> None:
    started = time.perf_counter()
    record.started_at = utcnow()
    marks: dict[str, float] = {}
    try:
        try:
            pipeline = pipeline_class(name)(workspace, record.dataset, resources)
            endpoint, prepared = await asyncio.to_thread(_load_and_prepare, workspace, name, pipeline,
                                                         record.user_input, marks)
        finally:  # no call goes before every prompt is built: a first embedding loads lazily too
            preparing = time.perf_counter() - marks.get("loaded", time.perf_counter())
            await loaded.arrive()
            record.load_s = time.perf_counter() - started - preparing
            started = time.perf_counter() - preparing  # latency: building this prompt + the call
        record.endpoint = endpoint.name
        record.model, record.prompt_messages, record.contexts = prepared.model, prepared.messages, prepared.contexts
        record.evidence = prepared.evidence
        config = pipeline.config
        waiting = time.perf_counter()
        async with limiter or contextlib.nullcontext():
            started += time.perf_counter() - waiting  # queueing behind the caller's limit is not latency
            result = await endpoint.complete(prepared.messages, model=prepared.model, max_tokens=config.max_tokens,
                                             temperature=config.temperature,
                                             on_delta=lambda text: queue.put_nowait(Delta(name, text)))
        record.response = result.text
        record.prompt_tokens, record.completion_tokens = result.prompt_tokens, result.completion_tokens
        record.usage_estimated = result.usage_estimated
        record.cost_usd = endpoint.cost(result.prompt_tokens, result.completion_tokens)
    except SandboxError as exc:
        record.error = str(exc)
    except Exception as exc:  # a bug in one pipeline must not take the others down; keep its type
        record.error = f"{name} failed unexpectedly: {type(exc).__name__}: {exc}"
    if record.error:  # stored and shown: never with a configured key in it
        record.error = redact(record.error, workspace.settings.secrets())
    record.latency_s = time.perf_counter() - started
    record.finished_at = utcnow()
    if store is not None:
        try:
            await asyncio.to_thread(store.add_run, record)
        except Exception as exc:  # sqlite3.Error or disk full: the answer is still shown
            record.error = (record.error + "\n" if record.error else "") + f"Not saved: {type(exc).__name__}: {exc}"
    queue.put_nowait(Done(record))
