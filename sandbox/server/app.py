"""The FastAPI app: OpenAI's /v1/models and /v1/chat/completions over a ``Generator``.

Each request waits for its generation in a worker thread (the event loop never blocks); the local
model batches the requests that wait at once (``batching.py``). A client that disconnects sets a
cancel flag the decoder checks every token, so its slot in the batch is freed at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.config import Settings, local_model_path, workspace_root
from sandbox.server import files, fine_tuning, schemas
from sandbox.server.batching import MAX_BATCH
from sandbox.server.fine_tuning import JobRunner
from sandbox.server.model import Generator, LocalModel
from sandbox.webguard import Guard, allowed_hosts
from sandbox.server.schemas import APIError, ChatRequest, missing_parameter, not_json

log = logging.getLogger("sandbox.server")

DISCONNECT_POLL_S = 0.25
MAX_WAITING = 64  # requests waiting for generation at once (threads); more queue in front of them


def create_app(workspace, generator: Generator | None = None, *, job_runner: JobRunner | None = None,
               preload: bool = False, api_key: str | None = None, host: str = "127.0.0.1") -> FastAPI:
    """The server app for a workspace; ``generator`` defaults to the real local model. With a ``job_runner``
    the app also serves OpenAI's /v1/files and /v1/fine_tuning/jobs over it (the caller picks the backend,
    so this package never imports the fine-tuning one). Every request passes ``sandbox.webguard``: Host
    allow-list for ``host``, same origin only, ``api_key`` as bearer token if given, bounded bodies."""
    root = workspace_root(workspace)
    if generator is None:
        generator = default_generator(workspace)
    worker = ThreadPoolExecutor(max_workers=MAX_WAITING, thread_name_prefix="sandbox-generate")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if preload and hasattr(generator, "start_loading"):
            generator.start_loading()
        yield
        worker.shutdown(wait=False, cancel_futures=True)
        if hasattr(generator, "close"):
            generator.close()

    app = FastAPI(title="sandbox local model server", lifespan=lifespan)
    app.state.workspace = workspace
    app.state.workspace_root = root
    app.state.model = generator
    app.state.worker = worker
    app.state.job_runner = job_runner  # the files and fine_tuning routers reach it here
    _install_error_handlers(app)
    settings = getattr(workspace, "settings", None) or Settings()
    app.add_middleware(Guard, hosts=allowed_hosts(host, settings.server.allowed_hosts), token=api_key,
                       max_body=int(settings.limits.request_mb * 2**20))
    _add_routes(app, generator, worker)
    if job_runner is not None:
        app.include_router(files.router)
        app.include_router(fine_tuning.router)
    return app


def default_generator(workspace, **overrides) -> Generator:
    """The local model as ``[server]`` in the workspace's settings says, with ``overrides`` (CLI flags) on top."""
    root = workspace_root(workspace)
    server = getattr(getattr(workspace, "settings", None), "server", None)
    kwargs = {"threads": getattr(server, "threads", 0), "max_batch": getattr(server, "max_batch", MAX_BATCH)}
    if getattr(server, "precision", None):
        kwargs["precision"] = server.precision
    kwargs["model_path"] = local_model_path(workspace)
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    return LocalModel(root, **kwargs)


# ---- routes ---------------------------------------------------------------------------------


def _add_routes(app: FastAPI, generator: Generator, worker: ThreadPoolExecutor) -> None:
    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        cards = await run_in_threadpool(generator.list_models)
        return {"object": "list", "data": [c.model_dump() for c in cards]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        cards = {c.id: c for c in await run_in_threadpool(generator.list_models)}
        if model_id not in cards:
            raise schemas.model_not_found(model_id, list(cards))
        return cards[model_id].model_dump()

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest, request: Request):
        body.check_supported()
        prepared = await run_in_threadpool(generator.prepare, body.model, body.chat(), body.params())
        job = _Job(generator, prepared, asyncio.get_running_loop())
        job.future = asyncio.get_running_loop().run_in_executor(worker, job.run)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(_sse(job, body.model, include_usage), media_type="text/event-stream")
        try:
            done = await _wait_watching_client(job, request)
        except asyncio.CancelledError:
            job.cancel.set()
            raise
        return schemas.chat_completion(schemas.completion_id(), body.model, done)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model_loaded": bool(getattr(generator, "loaded", True))}


class _Job:
    """One generation: runs in the worker, forwards text deltas to the event loop through a queue."""

    def __init__(self, generator: Generator, prepared, loop: asyncio.AbstractEventLoop):
        self.generator, self.prepared, self.loop = generator, prepared, loop
        self.cancel = threading.Event()
        self.events: asyncio.Queue = asyncio.Queue()
        self.future: asyncio.Future | None = None

    def run(self):
        try:
            return self.generator.run(self.prepared, self._emit, self.cancel.is_set)
        finally:
            self.loop.call_soon_threadsafe(self.events.put_nowait, None)  # end of stream

    def _emit(self, text: str) -> None:
        self.loop.call_soon_threadsafe(self.events.put_nowait, text)


async def _wait_watching_client(job: _Job, request: Request) -> schemas.Completion:
    """Await the job; if the client hangs up meanwhile, tell the worker to stop."""
    while True:
        done, _ = await asyncio.wait({job.future}, timeout=DISCONNECT_POLL_S)
        if done:
            return job.future.result()
        if await request.is_disconnected():
            job.cancel.set()


async def _sse(job: _Job, model: str, include_usage: bool) -> AsyncIterator[str]:
    cid, created = schemas.completion_id(), int(time.time())
    try:
        yield _event(schemas.chunk(cid, model, created, {"role": "assistant", "content": ""}, with_usage=include_usage))
        while (text := await job.events.get()) is not None:
            yield _event(schemas.chunk(cid, model, created, {"content": text}, with_usage=include_usage))
        try:
            done = await job.future
        except APIError as exc:
            yield _event(exc.body())
            return
        except Exception as exc:  # the stream has started: report in-band, as OpenAI does
            log.exception("generation failed")
            yield _event(APIError(500, f"Generation failed: {exc}", type="server_error").body())
            return
        finish = "length" if done.finish_reason == "length" else "stop"
        yield _event(schemas.chunk(cid, model, created, {}, finish, with_usage=include_usage))
        if include_usage:
            yield _event(schemas.usage_chunk(cid, model, created, done))
        yield "data: [DONE]\n\n"
    finally:
        job.cancel.set()  # client gone (or finished): the decode loop stops at its next token


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


# ---- errors -----------------------------------------------------------------------------------


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError):
        return JSONResponse(_validation_body(exc), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(APIError(exc.status_code, str(exc.detail), type=kind).body(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def server_error(_: Request, exc: Exception):
        log.exception("unhandled server error")
        return JSONResponse(APIError(500, f"Internal error: {exc}", type="server_error").body(), status_code=500)


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """OpenAI's shapes: ``param`` names a request field (never a byte offset), a missing field is
    ``missing_required_parameter``."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return not_json().body()
    param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
    if first.get("type") == "missing":
        return missing_parameter(param).body()
    message = f"Invalid value for {param or 'the request'}: {first.get('msg')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return APIError(400, message, param=param, code="invalid_value").body()
