"""Records that cross a boundary (store, export, JSON output), one pydantic model each.

Field names follow ragas' ``SingleTurnSample`` (``user_input``, ``retrieved_contexts``,
``response``, ``reference``) so stored runs can be scored by ragas without conversion.
Every stored record carries ``schema_version``; ``upgrade`` steps old ones forward.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


SHOWN_LOAD_S = 0.05  # one-time loading shorter than this is not worth showing (CLI table, UI)

class Context(BaseModel):
    """One retrieved chunk as shown to the model and to the user."""

    source: str = Field(description="document path relative to the dataset's docs/")
    text: str
    score: float = 0.0
    chunk_id: str = ""


class Evidence(BaseModel):
    """One sentence of a retrieved chunk given to the model as evidence (``sandbox.evidence``)."""

    source: str = Field(description="document path relative to the dataset's docs/")
    text: str
    score: float = 0.0


class RunRecord(BaseModel):
    """One question answered by one pipeline."""

    schema_version: int = 1
    id: str = Field(default_factory=new_id)
    comparison_id: str = Field("", description="groups the runs of one side-by-side compare")
    origin: Literal["ask", "app", "eval", "api", "langchain", "session"] = "ask"
    dataset: str = ""
    question_id: str = ""
    pipeline: str
    endpoint: str = ""
    model: str = ""
    user_input: str
    response: str = ""
    reference: str | None = None
    contexts: list[Context] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list, description="sentences of the contexts the prompt held")
    prompt_messages: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None
    latency_s: float = Field(0.0, description="building the prompt + the endpoint call; never one-time loading")
    load_s: float = Field(0.0, description="one-time loading before the call (models, index, local server)")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    usage_estimated: bool = Field(False, description="token counts estimated (the endpoint reported no usage)")
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    @computed_field  # ragas reads plain strings
    @property
    def retrieved_contexts(self) -> list[str]:
        return [c.text for c in self.contexts]

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_result(self) -> dict[str, Any]:
        """One entry of ``results`` in the ``ask --json`` output (README, "Asking one question three ways")."""
        return {
            "pipeline": self.pipeline,
            "model": self.model,
            "answer": self.response,
            "error": self.error,
            "latency_s": round(self.latency_s, 3),
            "load_s": round(self.load_s, 3),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "contexts": [{"source": c.source, "text": c.text, "score": c.score} for c in self.contexts],
            "evidence": [e.model_dump() for e in self.evidence],
        }


Verdict = Literal["best", "tie", "all-bad"]


class Judgment(BaseModel):
    """A human's (or an LLM judge's) verdict on one side-by-side comparison.

    No IP address or other client identifier is ever recorded: only the name the judge typed.
    """

    schema_version: int = 1
    id: str = Field(default_factory=new_id)
    comparison_id: str
    dataset: str = ""
    question_id: str = ""
    user_input: str = ""
    run_ids: dict[str, str] = Field(description="pipeline -> run id")
    shown_order: list[str] = Field(description="pipelines in the order shown (A, B, C)")
    blind: bool = True
    verdict: Verdict = "best"
    best: str | None = Field(None, description="winning pipeline when verdict is 'best'")
    ranks: dict[str, int] = Field(default_factory=dict, description="pipeline -> rank, 1 = best")
    ratings: dict[str, int] = Field(default_factory=dict, description="pipeline -> 1..5")
    tags: dict[str, list[str]] = Field(default_factory=dict)
    comment: str = ""
    judge: str = ""
    judge_kind: Literal["human", "llm"] = "human"
    session_id: str = Field("", description="the judging session the vote belongs to ('' = an ad-hoc comparison)")
    created_at: datetime = Field(default_factory=utcnow)


class SessionItem(BaseModel):
    """One frozen comparison of a session: a question and the stored run of each pipeline."""

    comparison_id: str = Field(default_factory=new_id)
    question_id: str
    user_input: str
    reference: str | None = None
    run_ids: dict[str, str] = Field(description="pipeline -> run id")


class Session(BaseModel):
    """A named, frozen set of comparisons of one dataset that several judges judge (see sandbox/sessions.py)."""

    schema_version: int = 1
    id: str = Field(default_factory=lambda: new_id()[:12])
    name: str
    dataset: str
    status: Literal["open", "closed"] = "open"
    pipelines: list[str]
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="pipeline -> its configuration when answered")
    answers_from: dict[str, int] = Field(default_factory=dict, description="'eval' / 'generated' -> answers taken that way")
    items: list[SessionItem]
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


def upgrade(kind: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """Read a stored record of any schema version (only v1 exists so far)."""
    return kind.model_validate(data)
