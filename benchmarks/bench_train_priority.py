"""Does a compare stay responsive while a fine-tune trains? Compare latency with the training worker
paused (idle), running at its own low priority (niceness 10, as the worker sets it), and running at
normal priority (niceness 0, what it was before), interleaved round by round in one run.

    .venv/bin/python benchmarks/bench_train_priority.py --workspace WS [--dataset knowledge] [--rounds 4]

WS must have a fine-tune *running* (e.g. `sandbox finetune --all --no-wait`); its worker is paused
with SIGSTOP for the idle rounds and resumed after each (training loses only those seconds).
Ratios are within this run; the machine is shared, so absolute seconds drift.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fakes.compare: stream_compare, collected

QUESTIONS = ["What does the document say about the warranty?", "Summarise the main requirement in one sentence.",
             "Which value is given for the maximum temperature?", "Who is responsible for the annual review?"]


def running_worker(ws) -> int:
    from sandbox.finetune.jobs import list_jobs, pid_alive

    for job in list_jobs(ws.state_dir):
        if job.status == "running" and pid_alive(job.pid, job.id):
            return job.pid
    raise SystemExit(f"No fine-tune is running in {ws.root}: start one (sandbox finetune --all --no-wait) and retry.")


def set_niceness(pid: int, niceness: int) -> None:
    """Every thread of the worker: on Linux a niceness belongs to a thread, and torch trains on its own
    OpenMP threads, so setting the process id alone would change only the idle main thread."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.setpriority(os.PRIO_PROCESS, int(tid), niceness)


def one_compare(ws, dataset: str, pipelines: list[str], question: str) -> float:
    from fakes import compare

    started = time.perf_counter()
    records = compare(ws, question, dataset=dataset, pipelines=pipelines)
    errors = [r.error for r in records if r.error]
    if errors:
        raise SystemExit(f"compare failed: {errors}")
    return time.perf_counter() - started


def main() -> None:
    from sandbox.config import load_workspace

    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--dataset", default="knowledge")
    parser.add_argument("--pipelines", default="few-shot,rag")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    ws = load_workspace(args.workspace)
    pipelines = args.pipelines.split(",")
    pid = running_worker(ws)
    one_compare(ws, args.dataset, pipelines, "warm-up question")  # model load, index, caches
    times: dict[str, list[float]] = {"idle (worker paused)": [], "training, nice 10": [], "training, nice 0": []}
    try:
        for r in range(args.rounds):
            question = QUESTIONS[r % len(QUESTIONS)]
            os.kill(pid, signal.SIGSTOP)
            try:
                times["idle (worker paused)"].append(one_compare(ws, args.dataset, pipelines, question))
            finally:
                os.kill(pid, signal.SIGCONT)
            set_niceness(pid, 10)
            times["training, nice 10"].append(one_compare(ws, args.dataset, pipelines, question))
            try:
                set_niceness(pid, 0)  # needs root (lowering niceness); skipped otherwise
                times["training, nice 0"].append(one_compare(ws, args.dataset, pipelines, question))
            except PermissionError:
                pass
            set_niceness(pid, 10)
    finally:
        os.kill(pid, signal.SIGCONT)
    idle = statistics.median(times["idle (worker paused)"])
    print(f"compare of {args.dataset} ({'+'.join(pipelines)}), {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    for name, values in times.items():
        if values:
            median = statistics.median(values)
            print(f"  {name:<22} median {median:6.2f} s   x{median / idle:.2f} of idle   {[round(v, 2) for v in values]}")


if __name__ == "__main__":
    main()
