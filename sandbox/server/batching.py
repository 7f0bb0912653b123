"""Continuous batching: concurrent requests share each forward pass of the local model.

One scheduler thread owns the model. A request joins the running batch at the next step: it is
prefilled alone (its prompt, its adapter), then its KV cache is left-padded into the batch's cache.
Every step then feeds one token per running request through one forward pass, with explicit
per-row positions and PEFT's per-row ``adapter_names``, so base-model and fine-tuned requests share
a batch. A request leaves when it ends or its client hangs up; its row is dropped and padding
columns no row needs any more are trimmed.

A request's answer is the same alone or in a batch (``row_exact.py`` says how), so batching
changes when an answer arrives, never what it says.

Hand-written because transformers' ``ContinuousBatchingManager`` packs all requests into one row
(paged attention), which PEFT's per-row adapter mixing cannot address, and it has no per-request
seed or stop-string streaming. A 135M model is cheap per row: most of a step's cost is per-op
overhead, so extra rows come almost free (see benchmarks/RESULTS.md, server).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from concurrent.futures import Future
from typing import Callable, Optional

from sandbox.server.decode import Sequence
from sandbox.server.schemas import Completion

log = logging.getLogger("sandbox.server")

MAX_BATCH = 16  # rows per step; more requests wait in the queue

# forward(input_ids, position_ids, cache, adapters, **model_kwargs) -> model output with .logits and .cache
Forward = Callable[..., object]


class Batcher:
    """Runs submitted ``Sequence``s to completion, many per forward pass, in one daemon thread."""

    def __init__(self, forward: Forward, max_batch: int = MAX_BATCH, context: Callable = None):
        self.forward = forward
        self.max_batch = max_batch
        self.context = context  # entered around the loop's work, e.g. the decode thread count
        self._queue: queue.Queue = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        self._stopping = False
        self.peak_rows = 0  # most requests that shared one step (tests read it)

    def submit(self, seq: Sequence) -> "Future[Completion]":
        """Queue a request; the future resolves to its Completion (or the error that ended it)."""
        future: Future = Future()
        self._ensure_thread()
        self._queue.put((seq, future))
        return future

    def run(self, seq: Sequence) -> Completion:
        return self.submit(seq).result()

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(None)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._loop, name="sandbox-batcher", daemon=True)
                self._thread.start()

    # ---- the scheduler ----------------------------------------------------------------------------

    def _loop(self) -> None:
        import torch

        batch = _Batch()
        with torch.inference_mode(), (self.context() if self.context else contextlib.nullcontext()):
            while not self._stopping:
                for seq, future in self._admissions(self.max_batch - len(batch.rows), block=not batch.rows):
                    self._join(batch, seq, future)
                if batch.rows:
                    self._step(batch)
        self._fail_all(batch, RuntimeError("The local model server is shutting down."))

    def _fail_all(self, batch: "_Batch", exc: BaseException) -> None:
        batch.fail(exc)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].set_exception(exc)

    def _admissions(self, room: int, block: bool) -> list:
        """Up to ``room`` new requests (the rest stay queued); waits for one when nothing is running."""
        items = []
        try:
            while len(items) < room:
                item = self._queue.get(block=block and not items)
                if item is None:
                    break
                items.append(item)
        except queue.Empty:
            pass
        return items

    def _join(self, batch: "_Batch", seq: Sequence, future: Future) -> None:
        import torch

        if seq.check_cancelled():
            future.set_result(seq.completion())
            return
        try:
            out = self.forward(torch.tensor([seq.prompt_ids]), None, None, [seq.adapter], logits_to_keep=1)
            going = seq.accept(out.logits[0, -1])
        except BaseException as exc:  # this request's problem only (bad adapter, ...): the batch goes on
            log.exception("prefill failed")
            future.set_exception(exc)
            return
        if going:
            batch.add(seq, future, out.cache)
        else:
            future.set_result(seq.completion())

    def _step(self, batch: "_Batch") -> None:
        import torch

        gone = [i for i, (seq, _) in enumerate(batch.rows) if seq.check_cancelled()]
        batch.drop(gone)
        if not batch.rows:
            return
        seqs = [seq for seq, _ in batch.rows]
        self.peak_rows = max(self.peak_rows, len(seqs))
        tokens = torch.tensor([[seq.last_token] for seq in seqs])
        try:
            out = self.forward(tokens, batch.positions(), batch.cache, [s.adapter for s in seqs], row_pads=batch.pads)
        except BaseException as exc:  # a failed step fails the requests in it, not the server
            log.exception("decode step failed")
            batch.fail(exc)
            return
        batch.cache = out.cache
        batch.grow()
        finished = []
        for i, (seq, future) in enumerate(batch.rows):
            try:
                if not seq.accept(out.logits[i, -1]):
                    finished.append(i)
            except BaseException as exc:  # its own callback failed (e.g. its server is shutting down): it alone ends
                future.set_exception(exc)
                finished.append(i)
        batch.drop(finished)


class _Batch:
    """The running rows and their shared, left-padded KV cache (``DynamicCache`` layers of [B, H, L, D])."""

    def __init__(self):
        self.rows: list[tuple[Sequence, Future]] = []
        self.pads: list[int] = []  # padding columns at the left of each row
        self.cache = None
        self.length = 0  # columns in the cache

    def add(self, seq: Sequence, future: Future, cache) -> None:
        import torch

        own = cache.get_seq_length()
        if self.cache is None:
            self.cache, self.length = cache, own
        else:
            width = max(self.length, own)
            for mine, theirs in zip(self.cache.layers, cache.layers):
                mine.keys = torch.cat([_pad_left(mine.keys, width), _pad_left(theirs.keys, width)])
                mine.values = torch.cat([_pad_left(mine.values, width), _pad_left(theirs.values, width)])
            self.pads = [p + width - self.length for p in self.pads]
            self.length = width
        self.rows.append((seq, future))
        self.pads.append(self.length - own)

    def positions(self):
        import torch

        return torch.tensor([[self.length - pad] for pad in self.pads])

    def grow(self) -> None:
        self.length += 1

    def drop(self, indices: list[int]) -> None:
        """Finish the rows at ``indices`` and trim padding columns no remaining row needs."""
        import torch

        if not indices:
            return
        for i in indices:
            seq, future = self.rows[i]
            if not future.done():
                future.set_result(seq.completion())
        keep = [i for i in range(len(self.rows)) if i not in set(indices)]
        self.rows = [self.rows[i] for i in keep]
        self.pads = [self.pads[i] for i in keep]
        if not keep:
            self.cache, self.length, self.pads = None, 0, []
            return
        trim = min(self.pads)
        index = torch.tensor(keep)
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, trim:]
            layer.values = layer.values[index, :, trim:]
        self.pads = [p - trim for p in self.pads]
        self.length -= trim

    def fail(self, exc: BaseException) -> None:
        for _, future in self.rows:
            if not future.done():
                future.set_exception(exc)
        self.rows, self.pads, self.cache, self.length = [], [], None, 0


def _pad_left(tensor, width: int):
    import torch

    missing = width - tensor.shape[-2]
    if missing == 0:
        return tensor
    shape = (*tensor.shape[:-2], missing, tensor.shape[-1])
    return torch.cat([tensor.new_zeros(shape), tensor], dim=-2)
