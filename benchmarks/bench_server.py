"""Local model server speed: batching, HTTP vs direct, load times, precision and thread options.

    .venv/bin/python benchmarks/bench_server.py [--tokens 48] [--section all|batching|precision]

All ratios are measured within this one run (the machine is shared, absolute numbers drift).
The batching section compares the server with continuous batching against the same server with
``max_batch=1`` (requests queued one at a time: the server before batching) and the one-request
decode loop, then runs a local compare and a small `sandbox eval` on both; the compare also runs on a batching
server whose prompts are prefilled one at a time (one prefill thread: the server before parallel prefill).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # tests/fakes.py: the synchronous compare()

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a vector database is in two sentences.",
    "Give three tips for writing clear emails.",
    "What is the difference between a list and a tuple in Python?",
    "Summarise the plot of Romeo and Juliet in one paragraph.",
]


def chat(prompt):
    return [{"role": "user", "content": prompt}]


def direct(model, prompt, tokens):
    from sandbox.server.schemas import ChatParams

    prepared = model.prepare("smollm2-135m-instruct", chat(prompt), ChatParams(max_tokens=tokens, temperature=0))
    started = time.perf_counter()
    done = model.run(prepared, lambda _: None, lambda: False)
    return done.completion_tokens, time.perf_counter() - started, done.text


def over_http(client, prompt, tokens):
    started = time.perf_counter()
    resp = client.chat.completions.create(model="smollm2-135m-instruct", messages=chat(prompt), max_tokens=tokens, temperature=0)
    return resp.usage.completion_tokens, time.perf_counter() - started, resp.choices[0].message.content


def rate(samples):
    return sum(n for n, _, _ in samples) / sum(t for _, t, _ in samples)


def load_times():
    """Cold conversion in a throwaway cache vs warm reload from the converted folder."""
    from sandbox.localmodel import weights
    from sandbox.server.model import LocalModel

    with tempfile.TemporaryDirectory() as cache:
        old = os.environ.get("SANDBOX_CACHE_DIR")
        os.environ["SANDBOX_CACHE_DIR"] = cache
        try:
            started = time.perf_counter()
            weights.ensure_converted()
            convert = time.perf_counter() - started
        finally:
            if old is None:
                os.environ.pop("SANDBOX_CACHE_DIR")
            else:
                os.environ["SANDBOX_CACHE_DIR"] = old
    weights.ensure_converted()
    warm = LocalModel(Path(tempfile.mkdtemp()), precision="fp32")
    started = time.perf_counter()
    warm.load()
    return convert, time.perf_counter() - started


def hf_generate_rate(model, tokens):
    """Baseline: transformers' own generate (greedy), fp32, same thread count."""
    import torch

    from sandbox.server.speed import decode_threads

    tok = model.tokenizer()
    total, spent = 0, 0.0
    with decode_threads(model.threads):
        for prompt in PROMPTS[:3]:
            ids = tok.apply_chat_template(chat(prompt), add_generation_prompt=True, return_tensors="pt", return_dict=True)
            started = time.perf_counter()
            out = model._model.generate(**ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
            spent += time.perf_counter() - started
            total += out.shape[1] - ids["input_ids"].shape[1]
    return total / spent


def precisions(tokens, threads_options):
    from sandbox.server.model import LocalModel

    rows, answers = [], {}
    for precision in ("fp32", "bf16", "int8"):
        for threads in threads_options:
            model = LocalModel(Path(tempfile.mkdtemp()), precision=precision, threads=threads)
            model.load()
            direct(model, PROMPTS[0], 4)  # warm-up
            samples = [direct(model, p, tokens) for p in PROMPTS]
            rows.append((precision, threads, rate(samples)))
            answers.setdefault(precision, [s[2] for s in samples])
            if precision == "fp32" and threads == threads_options[0]:
                rows.append(("fp32 HF generate", threads, hf_generate_rate(model, tokens)))
            del model
    return rows, answers


def http_vs_direct(tokens, precision):
    import openai

    from sandbox.localserver import start_local_server

    with start_local_server(Path(tempfile.mkdtemp()), preload=False) as server:
        model = server.model
        model.precision = precision
        model.load()
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=300)
        over_http(client, PROMPTS[0], 4)
        d_samples, h_samples = [], []
        for prompt in PROMPTS:  # interleaved so drifting machine load hits both alike
            d_samples.append(direct(model, prompt, tokens))
            h_samples.append(over_http(client, prompt, tokens))
        concurrent = {}
        for n in (1, 3):
            results, started = [], time.perf_counter()
            threads = [threading.Thread(target=lambda p=p: results.append(over_http(client, p, tokens))) for p in PROMPTS[:n]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            concurrent[n] = sum(r[0] for r in results) / (time.perf_counter() - started)
        return rate(d_samples), rate(h_samples), concurrent


# ---- batching -------------------------------------------------------------------------------


def old_loop(model, prompt, tokens):
    """The one-request decode loop the server ran before batching, on the same loaded model."""
    from sandbox.server.decode import Sequence, decode
    from sandbox.server.schemas import ChatParams
    from sandbox.server.speed import decode_threads

    prepared = model.prepare("smollm2-135m-instruct", chat(prompt), ChatParams(max_tokens=tokens, temperature=0))
    started = time.perf_counter()
    with decode_threads(model.threads):
        done = decode(model._model, Sequence(prepared.prompt_ids, prepared.params, tokens, model._tokenizer, model._eos))
    return done.completion_tokens, time.perf_counter() - started, done.text


def concurrent_rate(client, n, tokens):
    """Total completion tokens/s of ``n`` requests sent at once over HTTP."""
    from concurrent.futures import ThreadPoolExecutor

    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    started = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda p: over_http(client, p, tokens), prompts))
    return sum(r[0] for r in results) / (time.perf_counter() - started)


def demo_workspace(dataset, max_tokens):
    """A private copy of the demo workspace, indexed, whose fine-tuned pipeline uses the base model."""
    import shutil

    from sandbox.config import load_workspace
    from sandbox.index import build_index

    root = Path(tempfile.mkdtemp(prefix="bench-server-"))
    for name in ("corpora", "prompts"):
        shutil.copytree(REPO / name, root / name)
    lines = [f"[datasets.{dataset}]", 'fine_tuned_model = "smollm2-135m-instruct"',
             "[endpoints.local]", 'base_url = "local"', "timeout_s = 1800"]  # a busy shared machine is slow
    for name in ("few-shot", "rag", "fine-tuned"):
        lines += [f"[pipelines.{name}]", f"max_tokens = {max_tokens}"]
    (root / "sandbox.toml").write_text("\n".join(lines) + "\n")
    workspace = load_workspace(root)
    build_index(workspace, dataset)
    return workspace


def compare_ratio(workspace, dataset, question, rounds):
    """(median of one compare of the three pipelines) / (median of the slowest pipeline alone)."""
    from fakes import compare

    alone, together = {}, []
    for _ in range(rounds):
        for name in ("few-shot", "rag", "fine-tuned"):
            started = time.perf_counter()
            records = compare(workspace, question, dataset=dataset, pipelines=[name])
            assert not records[0].error, records[0].error
            alone.setdefault(name, []).append(time.perf_counter() - started)
        started = time.perf_counter()
        records = compare(workspace, question, dataset=dataset)
        assert not any(r.error for r in records), [r.error for r in records]
        together.append(time.perf_counter() - started)
    slowest = max(statistics.median(v) for v in alone.values())
    return statistics.median(together), slowest


def eval_rate(workspace, dataset, first, limit):
    """Answers/s of `sandbox eval` (all three pipelines) on questions ``first .. first+limit`` only."""
    import json

    from sandbox.evaluate import run_eval

    questions = workspace.dataset_dir(dataset) / "questions.jsonl"
    lines = [line for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    subset = Path(tempfile.mkdtemp()) / "questions.jsonl"
    subset.write_text("\n".join(lines[first : first + limit]) + "\n", encoding="utf-8")
    backup = questions.read_text(encoding="utf-8")
    questions.write_text(subset.read_text(encoding="utf-8"), encoding="utf-8")
    try:
        started = time.perf_counter()
        summary = run_eval(workspace, dataset, judge=False)
        wall = time.perf_counter() - started
    finally:
        questions.write_text(backup, encoding="utf-8")
    errors = sum(s.errors for s in summary.pipelines.values())
    return summary.ran / wall, errors, json.dumps({"answers": summary.ran, "wall_s": round(wall, 1)})


def batching(tokens, rounds, dataset, eval_questions):
    import openai

    from sandbox.localserver import start_local_server
    from sandbox.server.model import LocalModel

    root = Path(tempfile.mkdtemp())
    batched = start_local_server(root, preload=False)
    queued = start_local_server(root, generator=LocalModel(root, max_batch=1), preload=False)
    serial = start_local_server(root, generator=LocalModel(root), preload=False)  # batching, prompts prefilled one by one
    try:
        for server in (batched, queued, serial):
            server.model.load()
        serial.model._batcher.prefill_workers = 1  # before its first request, which starts the prefill pool
        model = batched.model
        old_loop(model, PROMPTS[0], 4), direct(model, PROMPTS[0], 4)  # warm-up
        old, new = [], []
        for _ in range(rounds):
            for prompt in PROMPTS[:3]:  # interleaved so drifting machine load hits both alike
                old.append(old_loop(model, prompt, tokens))
                new.append(direct(model, prompt, tokens))
        same = sum(a[2] == b[2] for a, b in zip(old, new))
        print(f"single stream: old loop {rate(old):.1f} tok/s, batching server {rate(new):.1f} tok/s, "
              f"ratio {rate(new) / rate(old):.2f} (target >= 0.95); greedy answers identical {same}/{len(old)}")
        clients = {name: openai.OpenAI(base_url=s.base_url, api_key="unused", max_retries=0, timeout=600)
                   for name, s in (("batched", batched), ("queued", queued))}
        sizes = {"batched": (1, 3, 8), "queued": (1, 3)}  # queued 8 at once is 8 single streams in a row
        conc = {(name, n): [] for name in clients for n in sizes[name]}
        for _ in range(rounds):
            for (name, n), samples in conc.items():
                samples.append(concurrent_rate(clients[name], n, tokens))
        med = {k: statistics.median(v) for k, v in conc.items()}
        for name in clients:
            print(f"{name:>8} over HTTP, total tok/s: " + ", ".join(f"{n} at once {med[(name, n)]:.1f}" for n in sizes[name]))
        one = med[("batched", 1)]
        print(f"batched: 3 at once / 1 = {med[('batched', 3)] / one:.2f} (target >= 2), "
              f"8 at once / 1 = {med[('batched', 8)] / one:.2f} (target >= 3); "
              f"3 at once batched / queued = {med[('batched', 3)] / med[('queued', 3)]:.2f}")
        workspace = demo_workspace(dataset, tokens)
        question = "How should I write a polite reminder to a colleague?"
        for name, server in (("batched", batched), ("serial prefill", serial), ("queued", queued)):
            os.environ["SANDBOX_LOCAL_BASE_URL"] = server.base_url
            together, slowest = compare_ratio(workspace, dataset, question, rounds)
            print(f"{name:>14} local compare of three pipelines: {together:.1f} s vs slowest alone {slowest:.1f} s, "
                  f"ratio {together / slowest:.2f}" + (" (target <= 1.3)" if name == "batched" else ""))
        rates = {}
        for i, (name, server) in enumerate((("queued", queued), ("batched", batched))):
            os.environ["SANDBOX_LOCAL_BASE_URL"] = server.base_url
            rates[name], errors, info = eval_rate(workspace, dataset, i * eval_questions, eval_questions)
            print(f"{name:>8} sandbox eval ({dataset}, concurrency {workspace.settings.eval.concurrency}): "
                  f"{rates[name]:.3f} answers/s, {errors} errors {info}")
        print(f"eval throughput batched / queued = {rates['batched'] / rates['queued']:.2f} (target >= 2)")
    finally:
        os.environ.pop("SANDBOX_LOCAL_BASE_URL", None)
        batched.stop()
        queued.stop()
        serial.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts to compare")
    parser.add_argument("--section", choices=("all", "batching", "precision"), default="all")
    parser.add_argument("--rounds", type=int, default=2, help="repetitions of the batching measurements (medians)")
    parser.add_argument("--dataset", default="instructions", help="demo dataset for the compare and eval rows")
    parser.add_argument("--eval-questions", type=int, default=4, help="questions per eval row (x 3 pipelines)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    if args.section in ("all", "batching"):
        batching(args.tokens, args.rounds, args.dataset, args.eval_questions)
        print(f"load average: {os.getloadavg()[0]:.1f}")
    if args.section == "batching":
        return
    from sandbox.server.model import DEFAULT_PRECISION

    convert, warm = load_times()
    print(f"load: first (GGUF conversion) {convert:.1f} s, warm reload {warm:.1f} s")
    rows, answers = precisions(args.tokens, [int(t) for t in args.threads.split(",")])
    base = next(r for r in rows if r[0] == "fp32")[2]
    print(f"\n{'variant':<18}{'threads':>8}{'tok/s':>8}{'x fp32':>8}")
    for name, threads, tps in rows:
        print(f"{name:<18}{threads:>8}{tps:>8.1f}{tps / base:>8.2f}")
    for precision in ("bf16", "int8"):
        same = sum(a == b for a, b in zip(answers[precision], answers["fp32"]))
        prefix = statistics.mean(common_prefix(a, b) for a, b in zip(answers[precision], answers["fp32"]))
        print(f"{precision}: {same}/{len(PROMPTS)} greedy answers identical to fp32, mean common prefix {prefix:.0%}")
        for a, b in zip(answers[precision][:3], answers["fp32"][:3]):
            if a != b:
                print(f"   fp32: {b[:70]!r}\n   {precision}: {a[:70]!r}")
    d, h, conc = http_vs_direct(args.tokens, DEFAULT_PRECISION)
    print(f"\nHTTP vs direct ({DEFAULT_PRECISION}): direct {d:.1f} tok/s, HTTP {h:.1f} tok/s, ratio {h / d:.2f} (target >= 0.9)")
    print(f"concurrent requests over HTTP: 1 -> {conc[1]:.1f} tok/s total, 3 -> {conc[3]:.1f} tok/s total (batched)")


def common_prefix(a: str, b: str) -> float:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n / max(len(a), len(b), 1)


if __name__ == "__main__":
    main()
