"""What every tab of the app shares: the workspace, the store, injectable services, session memory.

Tabs receive one ``AppContext`` (the tab contract is ``build(ctx) -> None``, called inside
``gr.Tabs()``; a tab creates its own ``gr.Tab``). Services such as ``stream_compare`` and
``build_index`` are plain attributes so tests inject fakes instead of patching modules.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import judging
from sandbox.compare import check_question_length, stream_compare
from sandbox.config import Workspace
from sandbox.index import build_index
from sandbox.judging import Comparison
from sandbox.records import Judgment
from sandbox.store import Store, open_store


class BoundedDict(OrderedDict):
    """Keeps the most recent ``limit`` entries: pending comparisons must not grow without end."""

    def __init__(self, limit: int = 2000):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


@dataclass
class AppContext:
    """Shared by all tabs of one app instance (not per user: per-user data lives in gr.State)."""

    workspace: Workspace
    store: Store
    stream_compare: Callable[..., Any] = stream_compare
    build_index: Callable[..., Any] = build_index
    blind_default: bool = True
    rng: random.Random = field(default_factory=random.SystemRandom)
    # comparison key -> Comparison, so the API's `judge` can find what `ask` showed (server-side truth)
    comparisons: BoundedDict = field(default_factory=BoundedDict)
    vote_lock: threading.Lock = field(default_factory=threading.Lock)
    curve_jobs: dict[str, Any] = field(default_factory=dict)  # dataset -> its learning-curve job (sandbox.curve_job)
    # Components created by build_app before the tabs, usable by any tab as inputs/outputs:
    dataset: Any = None  # gr.Dropdown with the selected dataset
    tabs: Any = None  # gr.Tabs, so a tab can switch to another (e.g. Compare -> Advisor)
    judge_name: Any = None  # gr.Textbox with the judge's name (remembered per browser)
    # (fn, outputs) that build_app runs on page load with the selected dataset as input
    on_load: list[tuple[Callable[..., Any], list[Any]]] = field(default_factory=list)

    @classmethod
    def for_workspace(cls, workspace: Workspace, **overrides: Any) -> "AppContext":
        return cls(workspace=workspace, store=open_store(workspace), **overrides)

    def new_comparison(self, dataset: str, question: str, *, blind: bool, **details: Any) -> Comparison:
        """A comparison in a fresh (shuffled when blind) order, kept so a later vote finds what was shown."""
        if dataset:
            self.workspace.dataset_dir(dataset)  # a name from the workspace, never a path
        check_question_length(self.workspace, question or "")
        comparison = judging.new_comparison(dataset, question, blind=blind, rng=self.rng, **details)
        self.comparisons[comparison.key] = comparison
        return comparison

    def run_comparison(self, comparison: Comparison) -> AsyncIterator[Comparison]:
        stream = self.stream_compare(
            self.workspace, comparison.question, dataset=comparison.dataset, pipelines=tuple(comparison.order),
            reference=comparison.reference, question_id=comparison.question_id, origin="app", store=self.store,
        )
        return judging.run_comparison(comparison, stream)

    def cast_vote(self, comparison: Comparison | None, **vote: Any) -> Judgment:
        return judging.record_vote(self.store, self.vote_lock, comparison, **vote)

    def datasets(self) -> list[str]:
        return self.workspace.datasets()

    def default_dataset(self) -> str | None:
        names = self.datasets()
        return names[0] if names else None
