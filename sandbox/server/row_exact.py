"""Batched decoding that gives each request exactly the numbers it would get alone.

Floating-point sums round differently when their blocking changes, and CPU kernels block by the
shape of the whole batch. Measured on this model (bf16 default): the base model's matmuls give a
row the same bits at 1-16 rows for every weight shape, but masked attention over a left-padded
cache does not (greedy answers changed), nor do LoRA's small matmuls (fp32 or bf16, sporadically).
So attention runs per row over that row's unpadded slice of the cache, and LoRA projections run as
one GEMM per row (a batched matmul); both are a small share of a step. fp32 base matmuls are not
row-exact (different kernels per batch size), so ``precision = "fp32"`` batches with rounding-level
differences.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

ROW_ATTENTION = "sandbox_rows"  # the attention implementation name registered with transformers


def use_row_attention(model) -> None:
    """Switch ``model`` to ``row_attention`` (sdpa, plus exact per-row attention for batched steps)."""
    AttentionInterface.register(ROW_ATTENTION, row_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ROW_ATTENTION, sdpa_mask)
    model.set_attn_implementation(ROW_ATTENTION)


def row_attention(module, query, key, value, attention_mask, row_pads=None, **kwargs):
    """sdpa; given ``row_pads`` (one new token per row), each row attends to its own cache without padding."""
    if row_pads is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    rows = [
        sdpa_attention_forward(module, query[i : i + 1], key[i : i + 1, :, pad:], value[i : i + 1, :, pad:], None, **kwargs)[0]
        for i, pad in enumerate(row_pads)
    ]
    return torch.cat(rows), None


class RowExactLinear(torch.nn.Linear):
    """A Linear computed as one GEMM per batch row, so a row's result never depends on the others."""

    def forward(self, x):
        if x.dim() != 3:
            return super().forward(x)
        out = torch.bmm(x, self.weight.t().unsqueeze(0).expand(x.shape[0], -1, -1))
        return out if self.bias is None else out + self.bias


def make_lora_row_exact(model) -> None:
    """Turn every plain LoRA A/B projection of ``model`` into a ``RowExactLinear`` (same weights)."""
    from peft.tuners.lora import LoraLayer

    for module in model.modules():
        if isinstance(module, LoraLayer):
            for linear in (*module.lora_A.values(), *module.lora_B.values()):
                if type(linear) is torch.nn.Linear:
                    linear.__class__ = RowExactLinear
