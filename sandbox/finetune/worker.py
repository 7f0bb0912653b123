"""One fine-tuning job in its own process: ``python -m sandbox.finetune.worker WORKSPACE JOB_ID [PARENT_PID]``.

Reads the job and its files from disk, trains, appends events (loss per step), saves a
checkpoint per epoch, writes the adapter + model.json where the server serves models, and
finally writes result.json. SIGTERM (cancel) stops between steps. A worker never outlives the process
that started it (``PARENT_PID``, the server): once re-parented it stops like a cancel, and if it cannot stop
between steps within ``ORPHAN_GRACE_S`` (loading the model) it records the failure and exits.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from sandbox.examples import parse_examples
from sandbox.finetune import trainer
from sandbox.finetune.state import FileStore, JobStore, append_jsonl, model_dirname, model_id, write_json
from sandbox.finetune.trainer import TrainConfig

NICENESS = 10  # training yields the CPU to answering: the app stays responsive while a job trains
PARENT_POLL_S = 1.0
ORPHAN_GRACE_S = 20.0


def watch_parent(parent: int, on_orphaned, poll_s: float = PARENT_POLL_S) -> threading.Thread:
    """Call ``on_orphaned()`` once the process ``parent`` is gone: we are re-parented, so ``getppid`` changes.

    Polling, not prctl(PR_SET_PDEATHSIG): that signal fires when the *thread* that forked us ends, and the
    server starts workers from short-lived request threads."""
    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        on_orphaned()

    thread = threading.Thread(target=loop, name="sandbox-parent-watch", daemon=True)
    thread.start()
    return thread


def config_for(job) -> "TrainConfig":  # noqa: F821
    hp = job.hyperparameters
    defaults = TrainConfig()
    return TrainConfig(n_epochs=hp.n_epochs if hp.n_epochs != "auto" else defaults.n_epochs,
                       batch_size=hp.batch_size if hp.batch_size != "auto" else defaults.batch_size,
                       learning_rate_multiplier=hp.learning_rate_multiplier if hp.learning_rate_multiplier != "auto" else 1.0,
                       seed=job.seed)


def run(workspace_root: Path, job_id: str, parent: int | None = None) -> int:
    state = workspace_root / ".sandbox"
    jobs, files = JobStore(state), FileStore(state)
    job = jobs.get(job_id)
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    if parent is not None:
        watch_parent(parent, lambda: _orphaned(jobs.job_dir(job_id), stop))
    metrics: list[dict] = []

    def on_event(event: dict) -> None:
        if event["type"] == "metrics":
            metrics.append(event)
            jobs.event(job_id, f"Step {event['step']}/{event['total_steps']}: training loss={event['train_loss']:.4f}",
                       data=event, type_="metrics")
        else:
            valid = f", validation loss={event['valid_loss']:.4f}" if event.get("valid_loss") is not None else ""
            jobs.event(job_id, f"Epoch {event['epoch']} done at step {event['step']}{valid}.", data=event)

    try:
        config = config_for(job)
        train_set, _ = parse_examples(files.path(job.training_file))
        valid_set = parse_examples(files.path(job.validation_file))[0] if job.validation_file else []
        started = time.time()
        model, tokenizer = trainer.load_base(config.threads, job.base_path)
        model = trainer.add_lora(model, config)
        jobs.event(job_id, f"Base model {job.model} loaded in {time.time() - started:.1f}s; training "
                   f"{len(train_set)} examples x {config.n_epochs} epochs, batch {config.batch_size}, lr {config.learning_rate:g}, LoRA r={config.lora_r}.")

        def on_epoch(epoch: int, info: dict) -> None:
            folder = jobs.job_dir(job_id) / "checkpoints" / f"step-{info['step']}"
            trainer.save_adapter(model, tokenizer, folder)
            append_jsonl(jobs.job_dir(job_id) / "checkpoints.jsonl", {
                "id": f"ftckpt-{job_id.removeprefix('ftjob-')[:12]}{info['step']:06d}", "object": "fine_tuning.job.checkpoint",
                "created_at": int(time.time()), "fine_tuning_job_id": job_id, "step_number": info["step"],
                "fine_tuned_model_checkpoint": f"{model_id(job)}:ckpt-step-{info['step']}",
                "metrics": {"step": info["step"], "train_loss": info["train_loss"], "valid_loss": info["valid_loss"]}})

        result = trainer.train(model, tokenizer, train_set, valid_set, config, on_event,
                               should_stop=lambda: stop["flag"], on_epoch=on_epoch)
        name = model_id(job)
        trainer.save_adapter(model, tokenizer, jobs.models_dir / model_dirname(name),
                             {"id": name, "created": int(time.time()), "base": job.model, "base_path": job.base_path,
                              "job": job_id})
        results_file = files.add(_metrics_csv(metrics), f"step_metrics_{job_id}.csv", "fine-tune-results")
        jobs.event(job_id, f"Trained {result.epochs} epochs x {result.examples} examples = {result.trained_tokens} tokens "
                   f"({result.assistant_tokens} target tokens, padding {result.padding_fraction:.1%}) in {result.seconds:.0f}s.",
                   data=result.model_dump())
        jobs.event(job_id, f"New fine-tuned model created: {name}")
        write_json(jobs.job_dir(job_id) / "result.json", {
            "status": "succeeded", "finished_at": int(time.time()), "fine_tuned_model": name,
            "trained_tokens": result.trained_tokens, "result_files": [results_file.id], "train": result.model_dump()})
        return 0
    except InterruptedError:
        write_json(jobs.job_dir(job_id) / "result.json", {"status": "cancelled", "finished_at": int(time.time())})
        return 1
    except Exception as exc:  # reported on the job, never lost
        traceback.print_exc()
        write_json(jobs.job_dir(job_id) / "result.json", {
            "status": "failed", "finished_at": int(time.time()),
            "error": {"code": "training_failed", "message": f"{type(exc).__name__}: {exc}"}})
        return 1


def _orphaned(job_dir: Path, stop: dict) -> None:
    """The server that started us is gone: stop between steps; still running after the grace: fail and exit."""
    stop["flag"] = True
    time.sleep(ORPHAN_GRACE_S)
    write_json(job_dir / "result.json", {"status": "failed", "finished_at": int(time.time()), "error": {
        "code": "server_exited", "message": "The server that started this job exited; create the job again."}})
    os._exit(1)


def _metrics_csv(metrics: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["step", "epoch", "train_loss", "tokens", "elapsed_s"])
    for m in metrics:
        writer.writerow([m["step"], m["epoch"], m["train_loss"], m["tokens"], m["elapsed_s"]])
    return buf.getvalue().encode()


def lower_priority(niceness: int = NICENESS) -> int:
    """Run at least ``niceness`` (never raise priority back if the parent was nicer); the new value."""
    return os.nice(max(0, niceness - os.nice(0)))


if __name__ == "__main__":
    lower_priority()
    sys.exit(run(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None))
