"""Local model server speed: HTTP vs direct, concurrency, load times, precision and thread options.

    .venv/bin/python benchmarks/bench_server.py [--tokens 48] [--quick]

All ratios are measured within this one run (the machine is shared, absolute numbers drift).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    from sandbox.server import weights
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

    from sandbox.server.inprocess import start_local_server

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts to compare")
    args = parser.parse_args()
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
    print(f"concurrent requests over HTTP: 1 -> {conc[1]:.1f} tok/s total, 3 -> {conc[3]:.1f} tok/s total (queued, one at a time)")


def common_prefix(a: str, b: str) -> float:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n / max(len(a), len(b), 1)


if __name__ == "__main__":
    main()
