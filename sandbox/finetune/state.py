"""On-disk state of the local fine-tuning provider: uploaded files and jobs.

Everything lives under ``<workspace>/.sandbox/finetune/`` as small JSON files written
atomically, so files and jobs survive a server restart and the worker process (which
appends events and writes its result) never needs the server:

    files/<file-id>.json + .data      uploaded files (OpenAI FileObject fields)
    jobs/<job-id>/job.json            the job record (OpenAI FineTuningJob fields + pid)
    jobs/<job-id>/events.jsonl        events, appended by server and worker
    jobs/<job-id>/result.json         written once by the worker when it ends
    jobs/<job-id>/checkpoints.jsonl   one line per saved checkpoint
    models/<dir>/                     finished adapters with model.json (served by the server)
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sandbox.files import atomic_write_text, safe_filename
from sandbox.localmodel import BASE_MODEL_ID


def finetune_dir(state_dir: Path) -> Path:
    path = state_dir / "finetune"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False))


def append_jsonl(path: Path, data: dict) -> None:
    # one short write with O_APPEND: lines from server and worker never interleave
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(data, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash mid-write
    return out


def openai_id(prefix: str) -> str:
    """An id shaped like OpenAI's (``ftjob-…``, ``file-…``)."""
    return f"{prefix}-{secrets.token_hex(12)}"


class FileRecord(BaseModel):
    id: str
    object: str = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str = "processed"
    expires_at: int | None = None
    status_details: str | None = None
    created_ns: int = Field(default_factory=time.time_ns, exclude=True)  # order within one second


class FileStore:
    def __init__(self, state_dir: Path):
        self.dir = finetune_dir(state_dir) / "files"
        self.dir.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes, filename: str, purpose: str) -> FileRecord:
        record = FileRecord(id=openai_id("file"), bytes=len(data), created_at=int(time.time()),
                            filename=safe_filename(filename, default="upload"), purpose=purpose)
        ext = ".csv" if record.filename.lower().endswith(".csv") else ".jsonl"  # parsers go by suffix
        (self.dir / f"{record.id}.data{ext}").write_bytes(data)
        write_json(self.dir / f"{record.id}.json", {**record.model_dump(), "created_ns": record.created_ns})
        return record

    def get(self, file_id: str) -> FileRecord | None:
        if not re.fullmatch(r"file-[0-9a-f]+", file_id or ""):
            return None
        path = self.dir / f"{file_id}.json"
        return FileRecord.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None

    def path(self, file_id: str) -> Path:
        csv = self.dir / f"{file_id}.data.csv"
        return csv if csv.exists() else self.dir / f"{file_id}.data.jsonl"

    def list(self) -> list[FileRecord]:
        records = [FileRecord.model_validate_json(p.read_text(encoding="utf-8")) for p in self.dir.glob("file-*.json")]
        return sorted(records, key=lambda r: r.created_ns, reverse=True)

    def delete(self, file_id: str) -> bool:
        if self.get(file_id) is None:
            return False
        (self.dir / f"{file_id}.json").unlink(missing_ok=True)
        self.path(file_id).unlink(missing_ok=True)
        return True


class Hyperparameters(BaseModel):
    n_epochs: int | str = "auto"
    batch_size: int | str = "auto"
    learning_rate_multiplier: float | str = "auto"


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


TERMINAL = ("succeeded", "failed", "cancelled")


class JobRecord(BaseModel):
    id: str
    object: str = "fine_tuning.job"
    created_at: int
    model: str = BASE_MODEL_ID
    organization_id: str = "org-local"
    status: str = "queued"
    training_file: str
    validation_file: str | None = None
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    suffix: str | None = None
    seed: int = 42
    result_files: list[str] = []
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    trained_tokens: int | None = None
    error: JobError | None = None
    estimated_finish: int | None = None
    metadata: dict[str, str] | None = None
    # local only (not part of OpenAI's shape; stripped from API responses)
    base_path: str | None = Field(None, description="the base model's .gguf file or HF folder; None: the bundled one")
    pid: int | None = None
    started_at: int | None = None
    created_ns: int = Field(default_factory=time.time_ns)

    def api(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"base_path", "pid", "started_at", "suffix", "created_ns"})
        data["method"] = {"type": "supervised", "supervised": {"hyperparameters": data["hyperparameters"]}}
        return data

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


def model_id(job: JobRecord) -> str:
    """``ft:<base id>:<suffix>:<job>``, like OpenAI's ids: the base the job trained on comes first."""
    short = job.id.removeprefix("ftjob-")[:12]
    return f"ft:{job.model}:{job.suffix or 'sandbox'}:{short}"


def model_dirname(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model)


class JobStore:
    def __init__(self, state_dir: Path):
        self.root = finetune_dir(state_dir)
        self.dir = self.root / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.models_dir = self.root / "models"

    def job_dir(self, job_id: str) -> Path:
        return self.dir / job_id

    def save(self, job: JobRecord) -> None:
        self.job_dir(job.id).mkdir(parents=True, exist_ok=True)
        write_json(self.job_dir(job.id) / "job.json", job.model_dump())

    def get(self, job_id: str) -> JobRecord | None:
        if not re.fullmatch(r"ftjob-[0-9a-f]+", job_id or ""):
            return None
        path = self.job_dir(job_id) / "job.json"
        return JobRecord.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None

    def list(self) -> list[JobRecord]:
        jobs = [JobRecord.model_validate_json(p.read_text(encoding="utf-8")) for p in self.dir.glob("ftjob-*/job.json")]
        return sorted(jobs, key=lambda j: j.created_ns, reverse=True)

    def event(self, job_id: str, message: str, level: str = "info", data: dict | None = None,
              type_: str = "message") -> None:
        append_jsonl(self.job_dir(job_id) / "events.jsonl",
                     {"created_at": int(time.time()), "level": level, "message": message, "data": data, "type": type_})

    def events(self, job_id: str) -> list[dict]:
        """Events newest first, with stable ids (their position in the log)."""
        rows = read_jsonl(self.job_dir(job_id) / "events.jsonl")
        short = job_id.removeprefix("ftjob-")[:12]
        out = [{"id": f"ftevent-{short}{i:06d}", "object": "fine_tuning.job.event", **r} for i, r in enumerate(rows)]
        return out[::-1]

    def checkpoints(self, job_id: str) -> list[dict]:
        return read_jsonl(self.job_dir(job_id) / "checkpoints.jsonl")[::-1]

    def result(self, job_id: str) -> dict | None:
        path = self.job_dir(job_id) / "result.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
