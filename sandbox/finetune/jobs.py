"""The local provider's job runner: validate, queue, start one worker process at a time,
cancel, and notice workers that died.

Training never runs in the server's process: each job is a ``python -m
sandbox.finetune.worker`` subprocess in its own session. The job's state is derived from
disk on every look (job.json, the worker's result.json, whether its pid is alive), so a
restarted server, a CLI in another process and a killed worker all see the truth.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sandbox.errors import InvalidRequest, SandboxError
from sandbox.examples import parse_examples
from sandbox.finetune.state import FileStore, Hyperparameters, JobError, JobRecord, JobStore, openai_id
from sandbox.finetune.trainer import TrainConfig
from sandbox.localmodel import BASE_MODEL_ID, model_id_for

MIN_EXAMPLES = 10  # OpenAI's minimum too
_children: dict[int, subprocess.Popen] = {}  # our own workers, polled so they get reaped
_lock = threading.Lock()


def validate_file(files: FileStore, file_id: str, param: str) -> int:
    """Number of examples in an uploaded training/validation file, or InvalidRequest."""
    record = files.get(file_id)
    if record is None:
        raise InvalidRequest(f"File {file_id!r} not found.", param, "file_not_found")
    if record.purpose != "fine-tune":
        raise InvalidRequest(f"File {file_id!r} has purpose {record.purpose!r}; upload it with purpose='fine-tune'.", param)
    examples, problems = parse_examples(files.path(file_id))
    if problems:
        shown = "; ".join(f"line {p.line}: [{p.code}] {p.message}" for p in problems[:5])
        raise InvalidRequest(f"File {file_id} ({record.filename}) is not valid fine-tuning data: {shown}", param, "invalid_file")
    if param == "training_file" and len(examples) < MIN_EXAMPLES:
        raise InvalidRequest(f"Training file {file_id} has {len(examples)} examples; at least {MIN_EXAMPLES} are required.", param, "invalid_file")
    return len(examples)


def create_job(state_dir: Path, *, training_file: str, model: str = BASE_MODEL_ID, validation_file: str | None = None,
               hyperparameters: dict | None = None, suffix: str | None = None, seed: int | None = None,
               metadata: dict | None = None, base_path: Path | None = None, start: bool = True) -> JobRecord:
    """Queue a LoRA fine-tune of the base model at ``base_path`` (None: the bundled one), which ``model`` must name;
    ``start``: this process may start its worker (see ``refresh``)."""
    base = model_id_for(base_path)
    if model != base:
        raise InvalidRequest(f"Model {model!r} cannot be fine-tuned here: this server serves and fine-tunes {base!r}. "
                             f"Fine-tune {base!r}, or serve {model!r} ([server] model in sandbox.toml, or "
                             f"sandbox serve --model) to fine-tune it.", "model", "model_not_available")
    if suffix is not None and (len(suffix) > 40 or not all(c.isalnum() or c in "-_" for c in suffix)):
        raise InvalidRequest("suffix must be up to 40 letters, digits, '-' or '_'.", "suffix")
    hp = Hyperparameters(**(hyperparameters or {}))
    for name in ("n_epochs", "batch_size"):
        value = getattr(hp, name)
        if value != "auto" and (not isinstance(value, int) or value < 1):
            raise InvalidRequest(f"hyperparameters.{name} must be a positive integer or 'auto'.", f"hyperparameters.{name}")
    lr = hp.learning_rate_multiplier
    if lr != "auto" and (not isinstance(lr, (int, float)) or lr <= 0):
        raise InvalidRequest("hyperparameters.learning_rate_multiplier must be positive or 'auto'.", "hyperparameters.learning_rate_multiplier")
    hp = _resolve(hp)
    files, jobs = FileStore(state_dir), JobStore(state_dir)
    n_train = validate_file(files, training_file, "training_file")
    n_valid = validate_file(files, validation_file, "validation_file") if validation_file else 0
    job = JobRecord(id=openai_id("ftjob"), created_at=int(time.time()), model=model, training_file=training_file,
                    base_path=str(base_path) if base_path else None, validation_file=validation_file,
                    hyperparameters=hp, suffix=suffix, seed=seed if seed is not None else 42, metadata=metadata, status="queued")
    jobs.save(job)
    jobs.event(job.id, f"Validated files: {n_train} training examples, {n_valid} validation examples.")
    jobs.event(job.id, "Job queued.")
    return refresh(state_dir, job.id, start=start)


def _resolve(hp: Hyperparameters) -> Hyperparameters:
    """Replace "auto" by the values the trainer will use, as OpenAI reports them on the job."""
    defaults = TrainConfig()
    return Hyperparameters(**{name: defaults.model_dump()[name] if value == "auto" else value
                              for name, value in hp.model_dump().items()})


def pid_alive(pid: int | None, job_id: str) -> bool:
    """Is ``pid`` still *this job's* worker (not a zombie, not a reused pid)?"""
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
        return job_id.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): fall back to signal 0
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def refresh(state_dir: Path, job_id: str, start: bool = True) -> JobRecord:
    """The job's current state; applies worker results, detects dead workers and, with ``start``, starts the
    queued job whose turn it is. A worker stops when the process that started it exits, so a process that is
    about to exit (``sandbox finetune --no-wait``) passes ``start=False`` and leaves the job to a lasting one
    (the app's or ``sandbox serve``'s queue watcher)."""
    with _lock:
        jobs = JobStore(state_dir)
        job = jobs.get(job_id)
        if job is None:
            raise InvalidRequest(f"Job {job_id!r} not found.", "fine_tuning_job_id", "not_found")
        if job.status == "running":
            job = _settle(jobs, job)
        if start and job.status == "queued" and not any(j.status == "running" and _settle(jobs, j).status == "running" for j in jobs.list() if j.id != job.id):
            oldest = min((j for j in jobs.list() if j.status == "queued"), key=lambda j: j.created_ns)
            if oldest.id == job.id:
                job = _start(state_dir, jobs, job)
        return job


def _settle(jobs: JobStore, job: JobRecord) -> JobRecord:
    result = jobs.result(job.id)
    if result is not None:
        job.status = result["status"]
        job.finished_at = result.get("finished_at", int(time.time()))
        job.fine_tuned_model = result.get("fine_tuned_model")
        job.trained_tokens = result.get("trained_tokens")
        job.result_files = result.get("result_files", [])
        job.error = JobError(**result["error"]) if result.get("error") else None
        job.estimated_finish = None
        jobs.save(job)
    elif not pid_alive(job.pid, job.id):
        job.status, job.finished_at, job.estimated_finish = "failed", int(time.time()), None
        job.error = JobError(code="worker_died", message=f"The training worker (pid {job.pid}) exited without a result "
                             f"(killed, out of memory or crashed); see {jobs.job_dir(job.id) / 'worker.log'}. Create the job again.")
        jobs.save(job)
        jobs.event(job.id, job.error.message, level="error")
    return job


def _start(state_dir: Path, jobs: JobStore, job: JobRecord) -> JobRecord:
    log = open(jobs.job_dir(job.id) / "worker.log", "ab")
    workspace_root = state_dir.parent
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.finetune.worker", str(workspace_root), job.id, str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                            cwd=str(workspace_root))
    log.close()
    _children[proc.pid] = proc
    job.status, job.pid, job.started_at = "running", proc.pid, int(time.time())
    jobs.save(job)
    jobs.event(job.id, f"Fine-tuning job started (worker pid {proc.pid}).")
    return job


def cancel(state_dir: Path, job_id: str) -> JobRecord:
    """Cancel a queued or running job (OpenAI refuses to cancel a finished one, so do we); the worker gets
    SIGTERM (it stops between steps) and is reaped in the background, SIGKILLed after ``CANCEL_GRACE_S``."""
    job = refresh(state_dir, job_id)
    if job.done:
        raise InvalidRequest(f"Job {job_id} has already {job.status}; only a queued or running job can be cancelled.",
                             "fine_tuning_job_id", "invalid_request")
    jobs = JobStore(state_dir)
    with _lock:
        pid = job.pid
        job.status, job.finished_at, job.estimated_finish = "cancelled", int(time.time()), None
        jobs.save(job)
        jobs.event(job.id, "Fine-tuning job cancelled.")
        if job.pid and pid_alive(pid, job.id):
            _signal_group(pid, signal.SIGTERM)
            if pid in _children:  # ours: wait for it, or it stays a zombie until the server exits
                threading.Thread(target=_reap, args=(_children.pop(pid),), name=f"reap-{pid}", daemon=True).start()
    return job


CANCEL_GRACE_S = 30.0


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:  # already gone
        pass


def _reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=CANCEL_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()


def list_jobs(state_dir: Path, start: bool = True) -> list[JobRecord]:
    jobs = JobStore(state_dir)
    return [refresh(state_dir, j.id, start) if not j.done else j for j in jobs.list()]


class LocalJobRunner:
    """The local provider as the server's fine-tuning routes see it (``sandbox.server.fine_tuning.JobRunner``):
    uploaded files plus jobs trained by worker processes, all under one workspace's ``.sandbox/``. Jobs train
    the base model at ``model_path`` (the one the server serves; None: the bundled SmolLM2). With
    ``start_workers`` False it only queues: the process is about to exit and must not parent a worker."""

    def __init__(self, state_dir: Path, model_path: Path | None = None, start_workers: bool = True):
        self.state_dir = Path(state_dir)
        self.model_path = model_path
        self.start_workers = start_workers

    @property
    def base_model(self) -> str:
        return model_id_for(self.model_path)

    @property
    def files(self) -> FileStore:
        return FileStore(self.state_dir)  # made on first use: its folder appears only when a file is uploaded

    def create(self, **request) -> JobRecord:
        return create_job(self.state_dir, base_path=self.model_path, start=self.start_workers, **request)

    def list(self) -> list[JobRecord]:
        return list_jobs(self.state_dir, self.start_workers)

    def retrieve(self, job_id: str) -> JobRecord:
        return refresh(self.state_dir, job_id, self.start_workers)

    def cancel(self, job_id: str) -> JobRecord:
        return cancel(self.state_dir, job_id)

    def events(self, job_id: str) -> list[dict]:
        refresh(self.state_dir, job_id, self.start_workers)
        return JobStore(self.state_dir).events(job_id)

    def checkpoints(self, job_id: str) -> list[dict]:
        refresh(self.state_dir, job_id, self.start_workers)
        return JobStore(self.state_dir).checkpoints(job_id)


def keep_moving(runner: LocalJobRunner, every_s: float = 10.0, stop: threading.Event | None = None) -> threading.Thread:
    """Start the next queued job and settle finished ones with nobody asking: a daemon thread of a lasting
    process (``sandbox serve``; the app's ``finetune.queue.watch`` does this and also registers models)
    until ``stop`` is set."""
    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                runner.list()
            except SandboxError as exc:  # a job folder removed under us: report, keep watching
                print(f"fine-tuning queue: {exc}", file=sys.stderr)
            stop.wait(every_s)

    thread = threading.Thread(target=loop, name="sandbox-finetune-queue", daemon=True)
    thread.start()
    return thread

