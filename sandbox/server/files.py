"""OpenAI's ``/v1/files`` on the local server (purpose ``fine-tune``): upload, list,
retrieve, content, delete, over the ``files`` of the app's job runner (the local one keeps them in
``.sandbox/finetune/files/``, so they survive restarts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from sandbox.server.schemas import APIError

router = APIRouter()
PURPOSES = ("fine-tune", "fine-tune-results", "assistants", "batch", "vision", "user_data")


def _store(request: Request):
    return request.app.state.job_runner.files


def _get(request: Request, file_id: str):
    record = _store(request).get(file_id)
    if record is None:
        raise APIError(404, f"No such File object: {file_id}", param="id", code="not_found")
    return record


@router.post("/v1/files")
async def upload(request: Request) -> dict[str, Any]:
    form = await request.form()
    upload_file, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload_file, UploadFile):
        raise APIError(400, "Missing 'file': send multipart/form-data with a 'file' part.", param="file")
    if purpose not in PURPOSES:
        raise APIError(400, f"'purpose' must be one of {', '.join(PURPOSES)} (got {purpose!r}).", param="purpose")
    data = await upload_file.read()  # the body was bounded while it streamed ([limits] request_mb, webguard)
    record = await run_in_threadpool(_store(request).add, data, upload_file.filename or "upload.jsonl", str(purpose))
    return record.model_dump()


@router.get("/v1/files")
async def list_files(request: Request, purpose: str | None = None, limit: int = 10000, after: str | None = None,
                     order: str = "desc") -> dict[str, Any]:
    records = [r for r in _store(request).list() if purpose is None or r.purpose == purpose]
    if order == "asc":
        records.reverse()
    if after:
        ids = [r.id for r in records]
        records = records[ids.index(after) + 1:] if after in ids else []
    page = records[:max(1, limit)]
    return {"object": "list", "data": [r.model_dump() for r in page], "has_more": len(records) > len(page),
            "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None}


@router.get("/v1/files/{file_id}")
async def retrieve(request: Request, file_id: str) -> dict[str, Any]:
    return _get(request, file_id).model_dump()


@router.get("/v1/files/{file_id}/content")
async def content(request: Request, file_id: str):
    record = _get(request, file_id)
    return FileResponse(_store(request).path(file_id), media_type="application/octet-stream", filename=record.filename)


@router.delete("/v1/files/{file_id}")
async def delete(request: Request, file_id: str) -> dict[str, Any]:
    _get(request, file_id)
    _store(request).delete(file_id)
    return {"id": file_id, "object": "file", "deleted": True}
