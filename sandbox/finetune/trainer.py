"""Local LoRA fine-tuning of the built-in model, engineered for a small CPU.

Speed comes from not training wasted tokens, never from training less than asked:
- sequences are length-grouped into batches, so padding is a few percent (reported);
- the prompt is the one the fine-tuned pipeline uses (the example's own system message
  and user input, no few-shot), and the loss is on assistant tokens only;
- the vocabulary projection (a fifth of the model's FLOPs) runs only at positions that
  have a target, instead of over every token;
- LoRA on all linear layers, base weights frozen, torch threads = cores.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from sandbox.examples import Example
from sandbox.finetune.tokens import IGNORE, encode
from sandbox.localmodel.weights import model_folder

DEFAULT_EPOCHS = 3
DEFAULT_BATCH = 8
BASE_LR = 1e-3


class TrainConfig(BaseModel):
    n_epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH
    learning_rate_multiplier: float = 1.0
    lora_r: int = 16
    lora_alpha: int = 32
    threads: int = 0  # 0: all cores
    seed: int = 42
    bf16: bool | None = None  # autocast matmuls to bfloat16; None: when the CPU has native bf16 (avx512_bf16/AMX)

    @property
    def use_bf16(self) -> bool:
        return cpu_has_bf16() if self.bf16 is None else self.bf16

    @property
    def learning_rate(self) -> float:
        return BASE_LR * self.learning_rate_multiplier


def cpu_has_bf16() -> bool:
    """Native bf16 matmul on this CPU (benchmarks/bench_finetune.py: 2.4x faster steps than fp32 here)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in (" avx512_bf16", " amx_bf16"))


class TrainResult(BaseModel):
    steps: int
    epochs: int
    examples: int
    trained_tokens: int
    assistant_tokens: int
    padding_fraction: float
    seconds: float
    bf16: bool = False
    final_loss: float | None = None
    valid_loss: float | None = None


Event = Callable[[dict[str, Any]], None]


def load_base(threads: int = 0, model_path: str | Path | None = None):
    """The base model (``model_path``: a .gguf file or HF folder; None: the bundled one) and its tokenizer,
    from its HF folder (a GGUF is converted once, cached)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads or os.cpu_count() or 1)
    folder = model_folder(model_path)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    return model, AutoTokenizer.from_pretrained(folder)


def add_lora(model, config: TrainConfig):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def encode_all(tokenizer, examples: list[Example]) -> list[tuple[list[int], list[int]]]:
    return [encode(tokenizer, e.messages) for e in examples]


def batches(encoded: list[tuple[list[int], list[int]]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Indices per batch: shuffle, then sort by length within windows of 16 batches
    (padding nearly vanishes while batch order stays random); every example once."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    window = batch_size * 16
    out = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: len(encoded[i][0]))
        out += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def collate(encoded, indices: list[int], pad_id: int):
    import torch

    width = max(len(encoded[i][0]) for i in indices)
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    labels = torch.full((len(indices), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    for row, i in enumerate(indices):
        x, y = encoded[i]
        ids[row, :len(x)] = torch.tensor(x)
        labels[row, :len(y)] = torch.tensor(y)
        mask[row, :len(x)] = 1
    return ids, labels, mask


def causal_lm(model):
    """The *ForCausalLM inside a peft model (LoRA layers included), or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def loss_on_targets(model, ids, labels, mask):
    """Mean next-token loss over assistant targets, projecting to the vocabulary only there."""
    import torch.nn.functional as F

    lm = causal_lm(model)
    hidden = lm.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = lm.lm_head(hidden[keep]).float()
    return F.cross_entropy(logits, targets[keep])


def _lr_at(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def train(model, tokenizer, train_set: list[Example], valid_set: list[Example], config: TrainConfig,
          on_event: Event = lambda e: None, should_stop: Callable[[], bool] = lambda: False,
          on_epoch: Callable[[int, Any], None] | None = None) -> TrainResult:
    """LoRA-train ``model`` (a peft model) in place; events report step, loss, tokens, ETA."""
    import contextlib

    import torch

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    encoded = encode_all(tokenizer, train_set)
    batch_size = max(1, min(config.batch_size, len(encoded)))
    steps_per_epoch = math.ceil(len(encoded) / batch_size)
    total = steps_per_epoch * config.n_epochs
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_at(s, total, max(1, min(10, total // 10))))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if config.use_bf16 else contextlib.nullcontext
    started, step, tokens, padded, targets, loss_value = time.time(), 0, 0, 0, 0, None
    model.train()
    for epoch in range(config.n_epochs):
        for indices in batches(encoded, batch_size, rng):
            if should_stop():
                raise InterruptedError("cancelled")
            ids, labels, mask = collate(encoded, indices, pad)
            with autocast():
                loss = loss_on_targets(model, ids, labels, mask)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens += int(mask.sum())
            padded += mask.numel()
            targets += int((labels[:, 1:] != IGNORE).sum())
            loss_value = float(loss.detach())
            elapsed = time.time() - started
            on_event({"type": "metrics", "step": step, "total_steps": total, "epoch": epoch + 1,
                      "train_loss": round(loss_value, 4), "tokens": tokens, "elapsed_s": round(elapsed, 2),
                      "eta_s": round(elapsed / step * (total - step), 1), "lr": scheduler.get_last_lr()[0]})
        with autocast():
            valid = evaluate(model, tokenizer, valid_set, batch_size, pad) if valid_set else None
        on_event({"type": "epoch", "epoch": epoch + 1, "step": step, "train_loss": loss_value, "valid_loss": valid})
        if on_epoch:
            on_epoch(epoch + 1, {"step": step, "train_loss": loss_value, "valid_loss": valid})
    return TrainResult(steps=step, epochs=config.n_epochs, examples=len(encoded), trained_tokens=tokens,
                       assistant_tokens=targets, padding_fraction=round(1 - tokens / max(1, padded), 4),
                       seconds=round(time.time() - started, 2), bf16=config.use_bf16, final_loss=loss_value,
                       valid_loss=valid if valid_set else None)


def evaluate(model, tokenizer, examples: list[Example], batch_size: int, pad: int) -> float:
    """Mean loss on held-out examples (assistant tokens only)."""
    import torch

    encoded = encode_all(tokenizer, examples)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    model.eval()
    total, weight = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            ids, labels, mask = collate(encoded, order[start:start + batch_size], pad)
            n = int((labels[:, 1:] != IGNORE).sum())
            total += float(loss_on_targets(model, ids, labels, mask)) * n
            weight += n
    model.train()
    return round(total / max(1, weight), 4)


def save_adapter(model, tokenizer, folder: Path, meta: dict[str, Any] | None = None) -> None:
    """PEFT adapter files (+ tokenizer, + model.json) written atomically into ``folder``."""
    import json
    import shutil
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if meta:
        (tmp / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
