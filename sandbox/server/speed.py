"""CPU speed options for the local model (precision and threads), measured in benchmarks/bench_server.py.

On a 135M model decoding one token at a time, time goes to per-op overhead and memory traffic, not
FLOPs: one intra-op thread beats two (no sync per tiny matmul), bf16 halves the weight traffic and
dynamic int8 quarters it for the decoder's Linear layers. The tied embedding / lm_head stays in
full precision: quantizing the vocabulary projection is what hurts answers most.
"""

from __future__ import annotations

import contextlib

DECODE_THREADS = 1  # threads=0 in settings means this; see the module docstring


def quantize_int8(model):
    """Dynamic int8 (per-row weights, activations quantized on the fly) for the decoder layers' Linears."""
    import torch

    model.model.layers = torch.ao.quantization.quantize_dynamic(model.model.layers, {torch.nn.Linear}, dtype=torch.qint8)
    return model


def pin_threads(threads: int) -> None:
    """Give the calling thread (a prefill worker) the decode thread count, so its forwards compute alike."""
    import torch

    torch.set_num_threads(threads if threads > 0 else DECODE_THREADS)


@contextlib.contextmanager
def decode_threads(threads: int):
    """Use ``threads`` intra-op threads while decoding, then restore what the process had."""
    import torch

    wanted = threads if threads > 0 else DECODE_THREADS
    before = torch.get_num_threads()
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != before:
            torch.set_num_threads(before)
