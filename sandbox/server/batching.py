"""Continuous batching: concurrent requests share each forward pass of the local model.

A request is prefilled as soon as it arrives, alone (its prompt, its adapter), in a small pool of
prefill threads that run beside the decode step: requests that arrive together (a compare's three
pipelines) prefill in parallel on the machine's cores instead of one after another, and the running
batch keeps decoding meanwhile. A prefilled request joins the running batch at the next step: its KV
cache is left-padded into the batch's cache. Every step then feeds one token per running request
through one forward pass in the scheduler thread, with explicit per-row positions and PEFT's per-row
adapter names, so base-model and fine-tuned requests share a batch. A request leaves when it ends or
its client hangs up; its row is dropped and padding columns no row needs any more are trimmed.

A request's answer is the same alone or in a batch (``row_exact.py`` says how; a prefill is always a
one-row forward at the decode thread count, whoever runs beside it), so batching changes when an
answer arrives, never what it says.

Hand-written because transformers' ``ContinuousBatchingManager`` packs all requests into one row
(paged attention), which PEFT's per-row adapter mixing cannot address, and it has no per-request
seed or stop-string streaming. A 135M model is cheap per row: most of a step's cost is per-op
overhead, so extra rows come almost free (see benchmarks/RESULTS.md, server).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Optional

from sandbox.server.decode import Sequence
from sandbox.server.schemas import Completion
from sandbox.server.speed import decode_threads, pin_threads

log = logging.getLogger("sandbox.server")

MAX_BATCH = 16  # requests prefilling or decoding at once; more wait for a slot
SLOT_POLL_S = 0.2  # how often a request waiting for a slot looks whether its client is still there
STOP_GRACE_S = 1.0  # a stopping scheduler collects prefills that finish this soon after its last arrival

# forward(input_ids, position_ids, cache, adapters, **model_kwargs) -> model output with .logits and .cache;
# called from the scheduler thread (decode steps) and from prefill threads at the same time
Forward = Callable[..., object]


def shutting_down() -> RuntimeError:
    return RuntimeError("The local model server is shutting down.")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Batcher:
    """Runs submitted ``Sequence``s to completion, many per forward pass: one daemon scheduler thread
    decodes, ``prefill_workers`` threads (default: one per core) prefill new requests beside it."""

    def __init__(self, forward: Forward, max_batch: int = MAX_BATCH, threads: int = 0, prefill_workers: int = 0):
        self.forward = forward
        self.max_batch = max_batch
        self.threads = threads  # intra-op threads per forward (0: speed.DECODE_THREADS)
        self.prefill_workers = prefill_workers or usable_cores()
        self._slots = threading.BoundedSemaphore(max_batch)  # one per request prefilling, waiting or decoding
        self._ready: queue.Queue = queue.Queue()  # prefilled requests waiting to join; None: stop
        self._prefill: Optional[ThreadPoolExecutor] = None
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        self._stopping = False
        self.peak_rows = 0  # most requests that shared one step (tests read it)

    def submit(self, seq: Sequence) -> "Future[Completion]":
        """Start prefilling a request; the future resolves to its Completion (or the error that ended it)."""
        future: Future = Future()
        self._ensure_threads().submit(self._prefill_one, seq, future)
        return future

    def run(self, seq: Sequence) -> Completion:
        return self.submit(seq).result()

    def stop(self) -> None:
        """End the scheduler; running and waiting requests fail with a clear error."""
        with self._start_lock:
            self._stopping = True
            self._ready.put(None)
            if self._prefill is not None:
                self._prefill.shutdown(wait=False)  # queued prefills still run, see _stopping and fail fast

    def _ensure_threads(self) -> ThreadPoolExecutor:
        with self._start_lock:
            if self._stopping and self._thread is not None:
                self._thread.join()  # a stopped scheduler finishes failing its requests before a new one starts
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._prefill = ThreadPoolExecutor(self.prefill_workers, thread_name_prefix="sandbox-prefill",
                                                   initializer=pin_threads, initargs=(self.threads,))
                self._thread = threading.Thread(target=self._loop, name="sandbox-batcher", daemon=True)
                self._thread.start()
            return self._prefill

    # ---- prefill (pool threads) -------------------------------------------------------------------

    def _prefill_one(self, seq: Sequence, future: Future) -> None:
        """Wait for a slot, prefill the prompt alone, hand the result to the scheduler."""
        import torch

        if not self._take_slot(seq):
            self._end_unstarted(seq, future)
            return
        if seq.check_cancelled() or self._stopping:
            self._slots.release()
            self._end_unstarted(seq, future)
            return
        try:
            with torch.inference_mode():
                out = self.forward(torch.tensor([seq.prompt_ids]), None, None, [seq.adapter], logits_to_keep=1)
        except BaseException as exc:  # this request's problem only (bad adapter, ...): the batch goes on
            log.exception("prefill failed")
            self._slots.release()
            future.set_exception(exc)
            return
        self._ready.put((seq, future, out))  # after a stop, _fail_all collects it

    def _take_slot(self, seq: Sequence) -> bool:
        """Wait for a free row; False when the client hangs up or the server stops first."""
        while not self._slots.acquire(timeout=SLOT_POLL_S):
            if seq.check_cancelled() or self._stopping:
                return False
        return True

    def _end_unstarted(self, seq: Sequence, future: Future) -> None:
        if self._stopping:
            future.set_exception(shutting_down())
        else:
            future.set_result(seq.completion())

    def _finish(self, seq: Sequence, future: Future) -> None:
        self._slots.release()
        if not future.done():
            future.set_result(seq.completion())

    # ---- the scheduler ----------------------------------------------------------------------------

    def _loop(self) -> None:
        import torch

        batch = _Batch()
        with torch.inference_mode(), decode_threads(self.threads):
            while not self._stopping:
                for seq, future, out in self._arrivals(block=not batch.rows):
                    self._join(batch, seq, future, out)
                if batch.rows:
                    self._step(batch)
        self._fail_all(batch, shutting_down())

    def _fail_all(self, batch: "_Batch", exc: BaseException) -> None:
        self._release(batch.fail(exc))
        while True:
            try:
                item = self._ready.get(timeout=STOP_GRACE_S)  # prefills still running when we stopped land here
            except queue.Empty:
                return
            if item is not None:
                item[1].set_exception(exc)
                self._slots.release()

    def _arrivals(self, block: bool) -> list:
        """Every prefilled request waiting to join; waits for one when nothing is running."""
        items = []
        try:
            while True:
                item = self._ready.get(block=block and not items)
                if item is None:
                    break
                items.append(item)
        except queue.Empty:
            pass
        return items

    def _join(self, batch: "_Batch", seq: Sequence, future: Future, out) -> None:
        try:
            going = not seq.check_cancelled() and seq.accept(out.logits[0, -1])
        except BaseException as exc:  # its own callback failed: it alone ends
            self._slots.release()
            future.set_exception(exc)
            return
        if going:
            batch.add(seq, future, out.cache)
        else:
            self._finish(seq, future)

    def _release(self, rows: int) -> None:
        for _ in range(rows):
            self._slots.release()

    def _step(self, batch: "_Batch") -> None:
        import torch

        gone = [i for i, (seq, _) in enumerate(batch.rows) if seq.check_cancelled()]
        self._release(batch.drop(gone))
        if not batch.rows:
            return
        seqs = [seq for seq, _ in batch.rows]
        self.peak_rows = max(self.peak_rows, len(seqs))
        tokens = torch.tensor([[seq.last_token] for seq in seqs])
        try:
            out = self.forward(tokens, batch.positions(), batch.cache, [s.adapter for s in seqs], row_pads=batch.pads)
        except BaseException as exc:  # a failed step fails the requests in it, not the server
            log.exception("decode step failed")
            self._release(batch.fail(exc))
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
        self._release(batch.drop(finished))


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

    def drop(self, indices: list[int]) -> int:
        """Finish the rows at ``indices`` and trim padding columns no remaining row needs; how many left."""
        import torch

        if not indices:
            return 0
        for i in indices:
            seq, future = self.rows[i]
            if not future.done():
                future.set_result(seq.completion())
        keep = [i for i in range(len(self.rows)) if i not in set(indices)]
        self.rows = [self.rows[i] for i in keep]
        self.pads = [self.pads[i] for i in keep]
        if not keep:
            self.cache, self.length, self.pads = None, 0, []
            return len(indices)
        trim = min(self.pads)
        index = torch.tensor(keep)
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, trim:]
            layer.values = layer.values[index, :, trim:]
        self.pads = [p - trim for p in self.pads]
        self.length -= trim
        return len(indices)

    def fail(self, exc: BaseException) -> int:
        """End every row with ``exc``; how many there were."""
        rows = len(self.rows)
        for _, future in self.rows:
            if not future.done():
                future.set_exception(exc)
        self.rows, self.pads, self.cache, self.length = [], [], None, 0
        return rows


def _pad_left(tensor, width: int):
    import torch

    missing = width - tensor.shape[-2]
    if missing == 0:
        return tensor
    shape = (*tensor.shape[:-2], missing, tensor.shape[-1])
    return torch.cat([tensor.new_zeros(shape), tensor], dim=-2)
