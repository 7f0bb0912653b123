"""A learning curve as one background job of the app: a thread per dataset, cancel, live progress.

Its trainings are ordinary fine-tuning jobs, so on the local provider they queue with every other local
fine-tune (one trains at a time). Cancel stops the running training between steps (an eval under way
finishes first: run_eval has no cancel); points already finished stay stored, and starting again continues
from them (as after a killed process).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sandbox.config import Workspace
from sandbox.curve import run_curve
from sandbox.curve_records import CurveCancelled, CurveProgress
from sandbox.errors import SandboxError


class CurveJob:
    def __init__(self, ws: Workspace, dataset: str, *, sizes: str | None, epochs: int,
                 eval_options: dict[str, Any] | None = None, runner: Callable[..., Any] = run_curve):
        self.ws, self.dataset, self.sizes, self.epochs = ws, dataset, sizes, epochs
        self.eval_options = eval_options or {}
        self.runner = runner
        self.progress: CurveProgress | None = None
        self.status = "running"  # running | done | cancelled | failed
        self.error = ""
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sandbox-curve-{dataset}", daemon=True)

    def start(self) -> "CurveJob":
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self.status == "running"

    def cancel(self) -> None:
        self._cancel.set()

    def _run(self) -> None:
        try:
            self.runner(self.ws, self.dataset, sizes=self.sizes, epochs=self.epochs, on_progress=self._update,
                        should_stop=self._cancel.is_set, eval_options=self.eval_options)
            self.status = "done"
        except CurveCancelled:
            self.status = "cancelled"
        except SandboxError as exc:
            self.status, self.error = "failed", str(exc)

    def _update(self, progress: CurveProgress) -> None:
        self.progress = progress

    def text(self) -> str:
        if self.status == "running":
            where = self.progress.text() if self.progress else "preparing the subsets"
            return f"Learning curve of {self.dataset}: {where}" + (" (cancelling...)" if self._cancel.is_set() else "")
        if self.status == "failed":
            return f"The learning curve of {self.dataset} failed: {self.error}"
        if self.status == "cancelled":
            return f"The learning curve of {self.dataset} was cancelled; its finished points are kept (Start continues)."
        return f"The learning curve of {self.dataset} is done."


def start_job(jobs: dict[str, CurveJob], ws: Workspace, dataset: str, **kwargs: Any) -> CurveJob:
    """Start a curve job for ``dataset`` unless one is running (then that one is returned)."""
    current = jobs.get(dataset)
    if current is not None and current.running:
        return current
    jobs[dataset] = CurveJob(ws, dataset, **kwargs).start()
    return jobs[dataset]
