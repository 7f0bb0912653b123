"""OpenAI's ``/v1/fine_tuning/jobs`` on the local server: create, retrieve, list, cancel,
events (loss per step) and checkpoints, over the ``JobRunner`` the app was built with
(``sandbox.finetune.jobs.LocalJobRunner`` trains in worker processes); handlers only read and
write small files in a thread."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from sandbox.errors import InvalidRequest
from sandbox.server.schemas import APIError, missing_parameter, not_json


class JobRunner(Protocol):
    """A fine-tuning backend: ``files`` (add/get/path/list/delete uploads) and jobs that have ``.api()``.
    Methods raise ``sandbox.errors.InvalidRequest`` for a bad request or an unknown id."""

    base_model: str
    files: Any

    def create(self, **request) -> Any: ...
    def list(self) -> list: ...
    def retrieve(self, job_id: str) -> Any: ...
    def cancel(self, job_id: str) -> Any: ...
    def events(self, job_id: str) -> list[dict]: ...
    def checkpoints(self, job_id: str) -> list[dict]: ...


def job_runner(request: Request) -> JobRunner:
    return request.app.state.job_runner


router = APIRouter()


def _page(items: list[dict], after: str | None, limit: int) -> dict[str, Any]:
    if after:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:max(1, min(limit, 1000))]
    return {"object": "list", "data": page, "has_more": len(items) > len(page)}


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except InvalidRequest as exc:
        status = 404 if exc.code == "not_found" else 400
        raise APIError(status, exc.message, param=exc.param, code=exc.code) from exc


@router.post("/v1/fine_tuning/jobs")
async def create(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise not_json() from exc
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.")
    if "training_file" not in body:
        raise missing_parameter("training_file")
    if not isinstance(body["training_file"], str):
        raise APIError(400, "'training_file' must be a file id from /v1/files.", param="training_file", code="invalid_value")
    method = body.get("method") or {}
    hp = body.get("hyperparameters") or (method.get("supervised") or {}).get("hyperparameters") or {}
    if method and method.get("type", "supervised") != "supervised":
        raise APIError(400, "Only method.type='supervised' is supported by the local provider.", param="method")
    job = await run_in_threadpool(_call, job_runner(request).create, training_file=body["training_file"],
                                  model=body.get("model") or job_runner(request).base_model, validation_file=body.get("validation_file"),
                                  hyperparameters={k: v for k, v in hp.items() if k in ("n_epochs", "batch_size", "learning_rate_multiplier")},
                                  suffix=body.get("suffix"), seed=body.get("seed"), metadata=body.get("metadata"))
    return job.api()


@router.get("/v1/fine_tuning/jobs")
async def list_jobs(request: Request, after: str | None = None, limit: int = 20) -> dict[str, Any]:
    records = await run_in_threadpool(job_runner(request).list)
    return _page([j.api() for j in records], after, limit)


@router.get("/v1/fine_tuning/jobs/{job_id}")
async def retrieve(request: Request, job_id: str) -> dict[str, Any]:
    return (await run_in_threadpool(_call, job_runner(request).retrieve, job_id)).api()


@router.post("/v1/fine_tuning/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str) -> dict[str, Any]:
    return (await run_in_threadpool(_call, job_runner(request).cancel, job_id)).api()


@router.get("/v1/fine_tuning/jobs/{job_id}/events")
async def events(request: Request, job_id: str, after: str | None = None, limit: int = 20) -> dict[str, Any]:
    return _page(await run_in_threadpool(_call, job_runner(request).events, job_id), after, limit)


@router.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
async def checkpoints(request: Request, job_id: str, after: str | None = None, limit: int = 10) -> dict[str, Any]:
    page = _page(await run_in_threadpool(_call, job_runner(request).checkpoints, job_id), after, limit)
    page["first_id"] = page["data"][0]["id"] if page["data"] else None
    page["last_id"] = page["data"][-1]["id"] if page["data"] else None
    return page
