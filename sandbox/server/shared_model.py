"""One model, several threads: prefills run beside the decode step, each with its own adapter rows.

PEFT picks a batch row's adapter through ``adapter_names``, which it passes by registering forward
hooks on every LoRA layer for the length of one call; two calls at once would see each other's hooks.
Here each LoRA layer gets one permanent hook that reads the calling thread's adapter names instead.
Attaching an adapter rewrites the model's modules, so it waits for running forwards and excludes them.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator, Optional

_rows = threading.local()  # .adapter_names: the current thread's per-row PEFT adapter names, or None


@contextlib.contextmanager
def adapter_rows(names: Optional[list[str]]) -> Iterator[None]:
    """Forwards in this block run batch row i through adapter ``names[i]`` (``"__base__"``: none)."""
    _rows.adapter_names = names
    try:
        yield
    finally:
        _rows.adapter_names = None


def _inject(_module, args, kwargs):
    names = getattr(_rows, "adapter_names", None)
    if names is not None:
        kwargs["adapter_names"] = names
    return args, kwargs


def install_row_hooks(model) -> None:
    """Give every LoRA layer of ``model`` (once) the hook that applies ``adapter_rows``."""
    from peft.tuners.lora import LoraLayer

    for module in model.modules():
        if isinstance(module, LoraLayer) and not getattr(module, "_sandbox_rows", False):
            module.register_forward_pre_hook(_inject, with_kwargs=True)
            module._sandbox_rows = True


class ModelGuard:
    """A readers-writer lock: forwards share the model, changing it (attaching an adapter) is exclusive.

    A waiting writer goes first, so a steady stream of decode steps cannot keep an adapter from loading.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
