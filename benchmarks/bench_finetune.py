"""Fine-tuning speed on this machine.

1. Seconds per training step of sandbox's trainer vs a bare peft loop (``model(..., labels=...)``)
   on the same batch, same LoRA, in the same run: ratio ours/bare (target <= 1.1).
2. Wall time of a full local fine-tune of a dataset's examples (default: format, 3 epochs, the
   deterministic training split), model load included; epochs, examples and tokens reported.

    .venv/bin/python benchmarks/bench_finetune.py [--dataset format] [--epochs 3] [--steps 4] [--skip-full] [--precision auto|bf16|fp32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load() -> str:
    return "load avg %.1f/%.1f/%.1f on %d cores" % (*os.getloadavg(), os.cpu_count())


def step_ratio(examples, steps: int, config) -> dict:
    import random

    import torch

    from sandbox.finetune import trainer

    model, tokenizer = trainer.load_base(config.threads)
    model = trainer.add_lora(model, config)
    encoded = trainer.encode_all(tokenizer, examples)
    batch = trainer.batches(encoded, config.batch_size, random.Random(0))[0]
    ids, labels, mask = trainer.collate(encoded, batch, tokenizer.pad_token_id)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)

    import contextlib

    def ours():
        with torch.autocast("cpu", dtype=torch.bfloat16) if config.use_bf16 else contextlib.nullcontext():
            loss = trainer.loss_on_targets(model, ids, labels, mask)
        loss.backward()

    def bare():
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()

    times = {"ours": [], "bare": []}
    for fn in (ours, bare):  # warm-up
        fn(); opt.zero_grad()
    for _ in range(steps):  # interleaved so machine load hits both alike
        for name, fn in (("ours", ours), ("bare", bare)):
            start = time.perf_counter()
            fn(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); opt.zero_grad()
            times[name].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items()}  # min: least disturbed by other load on a shared machine
    return {"batch_tokens": int(mask.sum()), "ours_s": round(best["ours"], 3), "bare_s": round(best["bare"], 3),
            "ratio": round(best["ours"] / best["bare"], 3)}


def full_run(train, valid, config) -> dict:
    from sandbox.finetune import trainer

    started = time.time()
    model, tokenizer = trainer.load_base(config.threads)
    model = trainer.add_lora(model, config)
    loaded = time.time() - started
    last = {}
    result = trainer.train(model, tokenizer, train, valid, config, on_event=lambda e: last.update(e) if e["type"] == "metrics" else None)
    return {"wall_s": round(time.time() - started, 1), "load_s": round(loaded, 1), **result.model_dump()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="format")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    args = parser.parse_args()

    from sandbox.examples import dataset_examples, parse_examples
    from sandbox.finetune.split import split_examples
    from sandbox.finetune.trainer import TrainConfig

    examples = parse_examples(dataset_examples(ROOT / "corpora" / args.dataset))[0]
    split = split_examples(examples)  # same hash rule as the stored split
    config = TrainConfig(n_epochs=args.epochs, batch_size=args.batch_size, bf16={"auto": None, "bf16": True, "fp32": False}[args.precision])
    print(f"[{load()}] config: {config.model_dump()}", flush=True)
    r = step_ratio(split.train, args.steps, config)
    print(f"step on {r['batch_tokens']} tokens: sandbox{' (bf16)' if config.use_bf16 else ' (fp32)'} {r['ours_s']}s vs bare peft (fp32) {r['bare_s']}s -> ratio {r['ratio']} "
          f"(target <= 1.1) [{load()}]", flush=True)
    if not args.skip_full:
        f = full_run(split.train, split.validation, config)
        print(f"full fine-tune of {args.dataset}: {f['epochs']} epochs x {f['examples']} examples = {f['trained_tokens']} tokens "
              f"({f['assistant_tokens']} target, padding {f['padding_fraction']:.1%}), {f['steps']} steps, "
              f"train {f['seconds']}s + load {f['load_s']}s = wall {f['wall_s']}s ({f['trained_tokens'] / f['seconds']:.0f} tok/s), "
              f"final loss {f['final_loss']:.4f}, valid loss {f['valid_loss']} (target wall <= 300s) [{load()}]", flush=True)


if __name__ == "__main__":
    main()
