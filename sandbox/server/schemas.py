"""OpenAI-shaped request and response records of the local server, and the errors it answers with.

Field names and shapes follow the OpenAI API so the official ``openai`` client (even with strict
response validation) reads them. Unknown request fields are ignored, as OpenAI-compatible servers do;
features the local model cannot honour (n>1, tools, logprobs, JSON mode) are refused with a 400.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator


class APIError(Exception):
    """An error the server answers with an OpenAI error body ``{"error": {...}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def not_json() -> APIError:
    # OpenAI's own answer has param and code null
    return APIError(400, "We could not parse the JSON body of your request: send a JSON object with "
                         "Content-Type: application/json.")


def missing_parameter(param: str | None) -> APIError:
    return APIError(400, f"Missing required parameter: {param!r}.", param=param, code="missing_required_parameter")


def model_not_found(model: str, available: list[str]) -> APIError:
    return APIError(
        404,
        f"The model {model!r} does not exist. Available: {', '.join(available) or 'none'}.",
        param="model",
        code="model_not_found",
    )


# ---- requests -------------------------------------------------------------------------------


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: Optional[str] = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[TextPart], None] = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.type != "text" or part.text is None:
                raise bad_request(f"Content parts of type {part.type!r} are not supported; send text.", "messages")
            parts.append(part.text)
        return "".join(parts)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)
    temperature: Optional[float] = Field(None, ge=0.0, le=2.0)
    top_p: Optional[float] = Field(None, gt=0.0, le=1.0)
    stop: Union[str, list[str], None] = None
    seed: Optional[int] = None
    n: Optional[int] = Field(None, ge=1)
    stream: Optional[bool] = False
    stream_options: Optional[StreamOptions] = None
    logprobs: Optional[bool] = None
    tools: Optional[list[Any]] = None
    response_format: Optional[dict[str, Any]] = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value):
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences are allowed")
        if any(not s for s in stops):
            raise ValueError("stop sequences must be non-empty strings")
        return stops

    def check_supported(self) -> None:
        """Refuse, with the parameter named, what the local model cannot do rather than ignore it."""
        if self.n not in (None, 1):
            raise bad_request("Only n=1 is supported by the local server.", "n")
        if self.logprobs:
            raise bad_request("logprobs are not supported by the local server.", "logprobs")
        if self.tools:
            raise bad_request("Tool calling is not supported by the local server.", "tools")
        if self.response_format and self.response_format.get("type", "text") != "text":
            raise bad_request("Only response_format type 'text' is supported by the local server.", "response_format")

    def params(self) -> "ChatParams":
        return ChatParams(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=1.0 if self.temperature is None else self.temperature,
            top_p=1.0 if self.top_p is None else self.top_p,
            stop=list(self.stop or []),
            seed=self.seed,
        )

    def chat(self) -> list[dict[str, str]]:
        """Messages as plain role/content dicts for a chat template (developer is the new system)."""
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in self.messages]


# ---- what a generator works with -------------------------------------------------------------


@dataclass
class ChatParams:
    max_tokens: Optional[int] = None  # None: as much as the context window leaves
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: Optional[int] = None


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length", "cancelled"]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


# ---- responses --------------------------------------------------------------------------------


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def usage(done: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
    }


def chat_completion(cid: str, model: str, done: Completion) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done.text, "refusal": None},
                "finish_reason": _finish(done),
                "logprobs": None,
            }
        ],
        "usage": usage(done),
    }


def chunk(cid: str, model: str, created: int, delta: dict, finish_reason: str | None = None, with_usage: bool = False) -> dict[str, Any]:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if with_usage:
        body["usage"] = None  # OpenAI sends null on every chunk but the last when usage is requested
    return body


def usage_chunk(cid: str, model: str, created: int, done: Completion) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage(done)}


def _finish(done: Completion) -> str:
    return "length" if done.finish_reason == "length" else "stop"
