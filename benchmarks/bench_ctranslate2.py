"""Single stream: CTranslate2 (a prebuilt PyPI wheel) vs sandbox's decode loop, same run, greedy, 1 thread.

    pip install --target /tmp/ct2 --no-deps ctranslate2==4.8.5     # not a sandbox dependency
    CT2_PATH=/tmp/ct2 .venv/bin/python benchmarks/bench_ctranslate2.py [TOKENS]

Converts the cached HF folder of the built-in model once (to $TMPDIR/ct2-model). Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [os.environ.get("CT2_PATH", ""), str(REPO), str(REPO / "benchmarks")]

from bench_server import PROMPTS, chat, old_loop, rate  # noqa: E402

COMPUTE_TYPES = ("float32", "int8_float32", "int8")  # this CPU's ct2 build offers no bfloat16


def ct2_run(generator, tokenizer, prompt, tokens):
    ids = tokenizer.apply_chat_template(chat(prompt), add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    started = time.perf_counter()
    result = generator.generate_batch([tokenizer.convert_ids_to_tokens(ids)], max_length=tokens, sampling_topk=1,
                                      include_prompt_in_result=False, end_token=[tokenizer.eos_token])
    spent = time.perf_counter() - started
    out = result[0].sequences_ids[0]
    return len(out), spent, tokenizer.decode(out, skip_special_tokens=True)


def main(tokens: int) -> None:
    import ctranslate2
    import torch
    from ctranslate2.converters import TransformersConverter

    from sandbox.localmodel.weights import converted_dir
    from sandbox.server.model import LocalModel

    print(f"load average {os.getloadavg()[0]:.1f}; torch cpu capability {torch.backends.cpu.get_cpu_capability()}, "
          f"ct2 {ctranslate2.__version__} compute types {sorted(ctranslate2.get_supported_compute_types('cpu'))}")
    folder = Path(tempfile.gettempdir()) / "ct2-model"
    if not folder.exists():
        TransformersConverter(str(converted_dir())).convert(str(folder), quantization="bfloat16")
    models = {p: LocalModel(Path(tempfile.mkdtemp()), precision=p) for p in ("bf16", "fp32")}
    for model in models.values():
        model.load()
    tokenizer = models["bf16"].tokenizer()
    generators = {c: ctranslate2.Generator(str(folder), device="cpu", compute_type=c, intra_threads=1) for c in COMPUTE_TYPES}
    rows = {f"sandbox {p}": [] for p in models} | {f"ct2 {c}": [] for c in generators}
    for prompt in PROMPTS:  # interleaved so drifting machine load hits all alike
        for p, model in models.items():
            rows[f"sandbox {p}"].append(old_loop(model, prompt, tokens))
        for c, generator in generators.items():
            rows[f"ct2 {c}"].append(ct2_run(generator, tokenizer, prompt, tokens))
    base = rate(rows["sandbox bf16"])
    for name, samples in rows.items():
        same = sum(a[2] == b[2] for a, b in zip(samples, rows["sandbox fp32"]))
        print(f"{name:<18} {rate(samples):6.1f} tok/s  {rate(samples) / base:5.2f}x sandbox bf16   greedy = fp32: {same}/{len(samples)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 32)
