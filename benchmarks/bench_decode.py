"""Decode-loop experiments for the local model: static KV cache, torch.compile, a leaner loop, lm_head precision.

    .venv/bin/python benchmarks/bench_decode.py [--tokens 48] [--rounds 3] [--no-compile]

Every variant decodes the same 6 prompts greedily, one intra-op thread (the server's setting). Variants
run interleaved round by round (the machine is shared), and each ratio is the median over rounds of
(variant tok/s ÷ default tok/s in the same round). Answers are compared with fp32 greedy and with the
current default (bf16, ``sandbox.server.decode.decode``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_server import PROMPTS, common_prefix  # the same prompts and answer measure as the server benchmark

COMPILE_BUCKET = 512  # one fixed StaticCache length for the compiled step, so it compiles once


def load(precision):
    from sandbox.server.model import LocalModel

    model = LocalModel(Path(tempfile.mkdtemp()), precision=precision)
    model.load()
    return model


def prompt_ids(tokenizer, prompt):
    messages = [{"role": "user", "content": prompt}]
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])


def default_loop(local):
    """The one-request loop (the server before batching)."""
    from sandbox.server.decode import Sequence, decode
    from sandbox.server.schemas import ChatParams

    def run(ids, tokens):
        seq = Sequence(ids, ChatParams(max_tokens=tokens, temperature=0), tokens, local._tokenizer, local._eos)
        done = decode(local._model, seq)
        return done.completion_tokens, done.text

    return run


def manual_loop(model, tokenizer, eos, *, cache=None, step=None, reuse=False, positions=True):
    """A greedy loop with the same TextStream work as the server, and pluggable cache / step function.

    ``cache(ids, tokens)`` makes the cache (None: transformers' DynamicCache); ``step(input, position, cache)``
    returns logits; ``positions`` passes position ids (else the model derives them from the cache); ``reuse`` keeps the [1, 1] input and position tensors and fills them in place.
    """
    import torch

    from sandbox.server.decode import TextStream

    def eager(x, pos, kv):
        return model(input_ids=x, position_ids=pos if positions else None, cache=kv, use_cache=True).logits

    step = step or eager

    def run(ids, tokens):
        stream = TextStream(tokenizer, [])
        produced = 0
        with torch.inference_mode():
            kv = cache(ids, tokens) if cache else None
            out = model(input_ids=torch.tensor([ids]), cache=kv, use_cache=True, logits_to_keep=1)
            kv, logits = out.cache, out.logits
            x, pos = torch.empty((1, 1), dtype=torch.long), torch.empty((1, 1), dtype=torch.long)
            while True:
                token = int(logits[0, -1].argmax())
                if token in eos:
                    break
                produced += 1
                stream.push(token)
                if produced >= tokens:
                    break
                position = len(ids) + produced - 1
                if reuse:
                    x.fill_(token)
                    pos.fill_(position)
                else:
                    x, pos = torch.tensor([[token]]), torch.tensor([[position]])
                logits = step(x, pos, kv)
        stream.flush()
        return produced, stream.text

    return run


def static_cache(config, fixed=None):
    from transformers import StaticCache

    return lambda ids, tokens: StaticCache(config=config, max_cache_len=fixed or len(ids) + tokens)


def head_fp32(local):
    """bf16 body, vocabulary projection in fp32 (an untied fp32 copy of the embedding)."""
    import torch

    class Fp32Head(torch.nn.Module):
        def __init__(self, weight):
            super().__init__()
            self.weight = torch.nn.Parameter(weight.detach().float().clone(), requires_grad=False)

        def forward(self, hidden):
            return torch.nn.functional.linear(hidden.float(), self.weight)

    local._model.lm_head = Fp32Head(local._model.model.embed_tokens.weight)
    return local


def measure(run, ids_list, tokens):
    started = time.perf_counter()
    results = [run(ids, tokens) for ids in ids_list]
    return sum(n for n, _ in results) / (time.perf_counter() - started), [t for _, t in results]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    fp32, bf16, bf16_head32 = load("fp32"), load("bf16"), head_fp32(load("bf16"))
    tok, eos = bf16._tokenizer, bf16._eos
    ids_list = [prompt_ids(tok, p) for p in PROMPTS]
    model = bf16._model
    variants = {
        "bf16 default loop": default_loop(bf16),
        "bf16 lean loop (reused tensors, explicit positions)": manual_loop(model, tok, eos, reuse=True),
        "bf16 StaticCache (len = prompt + max_tokens), eager": manual_loop(model, tok, eos, cache=static_cache(model.config), reuse=True),
        f"bf16 StaticCache (len = {COMPILE_BUCKET}), eager": manual_loop(model, tok, eos, cache=static_cache(model.config, COMPILE_BUCKET), reuse=True),
        # the server's cache length when a request sets no max_tokens (DEFAULT_MAX_TOKENS = 1024)
        "bf16 StaticCache (len = prompt + 1024), eager": manual_loop(
            model, tok, eos, cache=lambda ids, _: static_cache(model.config, len(ids) + 1024)(ids, 0), reuse=True
        ),
        "bf16 body + fp32 lm_head": default_loop(bf16_head32),
        "fp32": default_loop(fp32),
    }
    if not args.no_compile:
        def eager(x, pos, kv):
            return model(input_ids=x, position_ids=pos, cache=kv, use_cache=True).logits

        compiled = torch.compile(eager, dynamic=False)
        run = manual_loop(model, tok, eos, cache=static_cache(model.config, COMPILE_BUCKET), step=compiled, reuse=True)
        started = time.perf_counter()
        run(ids_list[0], 4)  # compiles (inductor, C++ via the local gcc)
        print(f"torch.compile of the decode step: {time.perf_counter() - started:.1f} s to compile + first run")
        variants[f"bf16 StaticCache ({COMPILE_BUCKET}) + torch.compile"] = run

    for run in variants.values():  # warm-up
        run(ids_list[0], 4)
    rates = {name: [] for name in variants}
    answers = {}
    names = list(variants)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate: no variant always goes first
            run = variants[name]
            rate, texts = measure(run, ids_list, args.tokens)
            rates[name].append(rate)
            answers.setdefault(name, texts)
        print(f"round {r + 1}: " + ", ".join(f"{v[-1]:.1f}" for v in rates.values()), flush=True)

    base = rates["bf16 default loop"]
    ref32, ref = answers["fp32"], answers["bf16 default loop"]
    print(f"\n{args.tokens} new tokens x {len(PROMPTS)} prompts, greedy, 1 thread, {args.rounds} interleaved rounds\n")
    print("| variant | tok/s (median) | × default (median of per-round ratios) | same as default | same as fp32 | prefix vs fp32 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, vals in rates.items():
        ratio = statistics.median(v / b for v, b in zip(vals, base))
        same_default = sum(a == b for a, b in zip(answers[name], ref))
        same_fp32 = sum(a == b for a, b in zip(answers[name], ref32))
        prefix = statistics.mean(common_prefix(a, b) for a, b in zip(answers[name], ref32))
        print(f"| {name} | {statistics.median(vals):.1f} | {ratio:.2f} | {same_default}/6 | {same_fp32}/6 | {prefix:.0%} |")
    for name, texts in answers.items():
        if name in ("fp32", "bf16 default loop"):
            continue
        for i, (a, b) in enumerate(zip(texts, ref)):
            if a != b:
                print(f"\n[{name}] prompt {i} differs from default:\n  default: {b[:120]!r}\n  variant: {a[:120]!r}")


if __name__ == "__main__":
    main()
