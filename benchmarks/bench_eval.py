"""Eval throughput against loopback endpoints that answer in 200 ms, and full demo evals.

    .venv/bin/python benchmarks/bench_eval.py                 # throughput (about a minute)
    .venv/bin/python benchmarks/bench_eval.py --demo DATASET [--limit N]   # real local model

Throughput target: (questions × pipelines) / wall ≥ 0.8 × c / 0.2 s at concurrency c. The
baseline printed next to it is c = 1 measured in the same run (the latency-bound floor).
The first eval in a fresh process also pays one-time costs (importing the openai client,
embedding the few-shot examples, opening Chroma and BM25); it runs first as its own "cold" row,
so the c rows measure throughput. Every row asks questions no earlier row asked (nothing is
answered from a cache filled by an earlier row), into a fresh store. "cpu ms" is process CPU per
answer (the fake endpoint runs in this process too): the machine is shared, so wall time is
noisy and CPU time says more about the cost of an answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakeserver import FakeServer, Reply  # noqa: E402

from sandbox.config import load_workspace  # noqa: E402

DELAY = 0.2


def workspace(root: Path, base_url: str, n: int, concurrency: int, first: int = 0):
    data = root / "corpora" / "bench"
    if not data.exists():
        (data / "docs").mkdir(parents=True)
        (data / "docs" / "a.md").write_text("# Parts\n" + "\n".join(f"Part {i} weighs {i * 3} kg." for i in range(200)))
        (data / "examples.jsonl").write_text("".join(json.dumps({"input": f"weight of part {i}?", "output": f"{i * 3} kg"}) + "\n" for i in range(20)))
    if True:  # the questions change per row
        (data / "questions.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "question": f"How much does part {i} weigh?", "reference": f"{i * 3} kg", "source": "a.md"}) + "\n" for i in range(first, first + n)))
    toml = f'[endpoints.fake]\nbase_url = "{base_url}"\nmodel = "m"\nmax_retries = 0\n'
    for p in ("few-shot", "rag", "fine-tuned"):
        toml += f'[pipelines.{p}]\nendpoint = "fake"\n'
    toml += f'[datasets.bench]\nfine_tuned_model = "ft:bench"\n[eval]\nconcurrency = {concurrency}\n'
    (root / "sandbox.toml").write_text(toml)
    return load_workspace(root)


def throughput() -> None:
    from sandbox.embeddings import get_embedder
    from sandbox.evaluate import run_eval
    from sandbox.index import build_index

    with FakeServer(Reply("about 42 kg", delay=DELAY)) as server:
        root = Path(tempfile.mkdtemp(prefix="bench-eval-"))
        ws = workspace(root, server.base_url, 8, 1)
        build_index(ws, "bench")
        embedder = get_embedder(ws.settings)
        rows, first = [], 0
        for label, c, n in (("cold", 1, 4), ("1", 1, 4), ("4", 4, 16), ("8", 8, 32), ("16", 16, 48)):
            ws = workspace(root, server.base_url, n, c, first)
            first += n
            (ws.db_path).unlink(missing_ok=True)  # a fresh store: nothing to resume
            for suffix in ("-wal", "-shm"):
                Path(str(ws.db_path) + suffix).unlink(missing_ok=True)
            started, cpu = time.perf_counter(), time.process_time()
            summary = run_eval(ws, "bench", embedder=embedder)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            answers = summary.ran
            errors = sum(s.errors for s in summary.pipelines.values())
            rows.append((label, c, answers, wall, answers / wall, 1000 * cpu / answers, errors))
        base = rows[1][4]
        print(f"{'c':>4} {'answers':>8} {'wall s':>7} {'answers/s':>10} {'target':>7} {'ratio':>6} {'vs c=1':>7} {'cpu ms':>7} errors")
        for label, c, answers, wall, rate, cpu_ms, errors in rows:
            target = 0.8 * c / DELAY
            print(f"{label:>4} {answers:>8} {wall:>7.2f} {rate:>10.2f} {target:>7.1f} {rate / target:>6.2f} {rate / base:>7.2f} "
                  f"{cpu_ms:>7.1f} {errors}")


def demo(dataset: str, limit: int | None) -> None:
    """A full (or --limit) eval of a demo dataset against the local model, in a private copy."""
    import shutil

    from sandbox.evaluate import run_eval
    from sandbox.index import build_index

    repo = Path(__file__).resolve().parent.parent
    root = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    for name in ("corpora", "prompts"):
        shutil.copytree(repo / name, root / name)
    if (repo / "sandbox.toml").exists():
        shutil.copy(repo / "sandbox.toml", root / "sandbox.toml")
    ws = load_workspace(root)
    build_index(ws, dataset)
    started = time.perf_counter()
    summary = run_eval(ws, dataset, limit=limit, progress=lambda d, t: print(f"\r{d}/{t}", end="", file=sys.stderr))
    wall = time.perf_counter() - started
    print()
    total_q = sum(1 for _ in open(root / "corpora" / dataset / "questions.jsonl") if _.strip())
    print(f"{dataset}: {summary.ran} answers ({summary.questions} questions × 3 pipelines) in {wall:.1f} s "
          f"= {wall / max(1, summary.ran):.2f} s/answer; concurrency {ws.settings.eval.concurrency}")
    if limit and limit < total_q:
        print(f"  extrapolated full eval ({total_q} questions): {wall * total_q / summary.questions / 60:.1f} min (EXTRAPOLATED)")
    for s in summary.pipelines.values():
        q = summary.quality_metric
        m = s.metrics.get(q)
        print(f"  {s.pipeline:<11} {q} {m.mean:.2f} [{m.low:.2f}, {m.high:.2f}] errors {s.errors}" if m else f"  {s.pipeline}: no {q}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    demo(args.demo, args.limit) if args.demo else throughput()
