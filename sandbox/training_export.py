"""Training data from judgments, on exactly the prompt a pipeline serves.

A model trained on ``[user, assistant]`` but served ``[system, user]`` learns a different prompt from
the one it answers; so every example's prompt comes from the pipeline's own ``prompt_messages``
(the same prompt file, instruction and template), never from a copy of it:

- ``finetune``: ``{"messages": [...prompt, assistant]}`` with the preferred answer as the assistant turn.
- ``pairs``: TRL's conversational preference format, ``{"prompt": [...prompt], "chosen": [assistant],
  "rejected": [assistant]}``, one per strict preference a judgment implies (ties give none).

``as_prompt`` picks whose prompt: ``fine-tuned`` (default: system + question, what the fine-tuned
model is served), ``rag`` (plus the contexts the RAG run of that comparison was shown, from the
store; a judgment without a usable RAG run is skipped) or ``few-shot`` (plus the examples the
few-shot pipeline selects for the question).
"""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.config import Workspace
from sandbox.errors import SandboxError
from sandbox.judgment_stats import pairwise, winner
from sandbox.pipelines import REGISTRY, Pipeline, Resources
from sandbox.records import Judgment, RunRecord
from sandbox.store import Store

AS_PROMPTS = tuple(REGISTRY)
DEFAULT_AS_PROMPT = "fine-tuned"


class PromptSource:
    """The prompt of one pipeline for a judgment's question; pipelines built once per dataset."""

    def __init__(self, workspace: Workspace, store: Store, as_prompt: str = DEFAULT_AS_PROMPT):
        if as_prompt not in REGISTRY:
            raise SandboxError(f"Unknown --as-prompt {as_prompt!r}.", f"Use one of: {', '.join(REGISTRY)}.")
        self.workspace, self.store, self.as_prompt = workspace, store, as_prompt
        self.resources = Resources(workspace)
        self._pipelines: dict[str, Pipeline] = {}
        self._runs: dict[str, RunRecord | None] = {}
        self.skipped = 0

    def run(self, run_id: str | None) -> RunRecord | None:
        """A stored run that answered (failed, empty or deleted runs give None)."""
        if run_id and run_id not in self._runs:
            self._runs[run_id] = self.store.get_run(run_id)
        run = self._runs.get(run_id) if run_id else None
        return run if run is not None and run.ok and run.response.strip() else None

    def messages(self, judgment: Judgment) -> list[dict[str, str]] | None:
        """The prompt ``as_prompt`` sends for this judgment's question, or None (counted in ``skipped``)."""
        contexts = None
        if self.as_prompt == "rag":
            shown = self.run(judgment.run_ids.get("rag"))
            if shown is None or not shown.contexts:
                self.skipped += 1
                return None
            contexts = shown.contexts
        return self._pipeline(judgment.dataset).prompt_messages(judgment.user_input, contexts)

    def _pipeline(self, dataset: str) -> Pipeline:
        if dataset not in self._pipelines:
            self._pipelines[dataset] = REGISTRY[self.as_prompt](self.workspace, dataset, self.resources)
        return self._pipelines[dataset]


def assistant(run: RunRecord) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": run.response}]


def finetune_records(source: PromptSource, judgments: Sequence[Judgment]) -> list[dict]:
    """The preferred answer of each judgment as a chat example on the served prompt."""
    out = []
    for j in judgments:
        best = winner(j)
        run = source.run(j.run_ids.get(best)) if best else None
        if run is not None and (prompt := source.messages(j)) is not None:
            out.append({"messages": prompt + assistant(run)})
    return out


def preference_pairs(source: PromptSource, judgments: Sequence[Judgment]) -> list[dict]:
    """Every strict preference (a beat b) with both answers present, in TRL's conversational format."""
    out = []
    for j in judgments:
        found = [(source.run(j.run_ids.get(a)), source.run(j.run_ids.get(b))) for a, b, score in pairwise(j) if score != 0.5]
        found = [(chosen, rejected) for chosen, rejected in found if chosen and rejected]
        if found and (prompt := source.messages(j)) is not None:
            out += [{"prompt": prompt, "chosen": assistant(chosen), "rejected": assistant(rejected)} for chosen, rejected in found]
    return out


def training_rows(workspace: Workspace, store: Store, fmt: str, judgments: Sequence[Judgment],
                  as_prompt: str = DEFAULT_AS_PROMPT) -> tuple[list[dict], int]:
    """(rows, judgments skipped for lack of the ``as_prompt`` run) for ``finetune`` or ``pairs``."""
    source = PromptSource(workspace, store, as_prompt)
    build = finetune_records if fmt == "finetune" else preference_pairs
    return build(source, judgments), source.skipped
