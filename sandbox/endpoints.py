"""OpenAI-compatible chat endpoints: one streaming call with retries, usage and cost.

Every pipeline talks to its endpoint through the ``openai`` package (``AsyncOpenAI``), so OpenAI,
vLLM, Ollama, llama.cpp, Together and the built-in local server all work the same way.
Retries are our own loop (the client's ``max_retries`` is 0) so that the error can say what
happened after how many attempts. The API key comes only from ``EndpointConfig.api_key()`` and
is never logged or put into an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import ssl
import time
import weakref
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from sandbox.config import EndpointConfig, Workspace
from sandbox.errors import EndpointError
from sandbox.text import redact
from sandbox.localserver import local_base_url
from sandbox.server.inprocess import token_for, wait_until_loaded

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
CHARS_PER_TOKEN = 4  # rough estimate when an endpoint reports no usage (labelled as estimated)

OnDelta = Callable[[str], Any]


class Reply(BaseModel):
    """The outcome of one successful chat call."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool = False
    attempts: int = 1
    latency_s: float = 0.0


def cost_usd(config: EndpointConfig, prompt_tokens: int, completion_tokens: int) -> float:
    """Inference cost from the endpoint's per-million-token prices."""
    return (prompt_tokens * config.price_in_per_mtok + completion_tokens * config.price_out_per_mtok) / 1_000_000


def estimate_tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0


def api_key_for(config: EndpointConfig, base_url: str) -> str:
    """The key to send: for ``local``, this process's server's per-start token; else the configured key."""
    if config.is_local and (token := token_for(base_url)):
        return token
    return config.api_key()


def resolve_base_url(workspace: Workspace, config: EndpointConfig) -> str:
    """The endpoint's URL; ``local`` starts (once per process) or reuses the built-in server. Blocking."""
    if not config.is_local:
        return config.base_url
    return local_base_url(workspace)


# One AsyncOpenAI per (event loop, url, key, timeout): creating one builds an HTTP client and
# TLS context, which costs milliseconds per call, but a client must not outlive its loop.
_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_SSL: list[ssl.SSLContext] = []


def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one (loading the CA bundle) takes ~60 ms, and each
    new event loop (every sync ``compare``) would otherwise pay it per endpoint."""
    if not _SSL:
        import certifi

        _SSL.append(ssl.create_default_context(cafile=certifi.where()))
    return _SSL[0]


def _client(base_url: str, api_key: str, timeout_s: float):
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    loop = asyncio.get_running_loop()
    per_loop = _CLIENTS.setdefault(loop, {})
    key = (base_url, hashlib.sha256(api_key.encode()).hexdigest(), timeout_s)
    if key not in per_loop:
        per_loop[key] = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0,
                                    http_client=DefaultAsyncHttpxClient(verify=_ssl_context()))
    return per_loop[key]


class ChatEndpoint:
    """A named endpoint at a resolved URL; ``complete`` streams one answer."""

    def __init__(self, name: str, config: EndpointConfig, base_url: str):
        self.name = name
        self.config = config
        self.base_url = base_url

    def load(self) -> None:
        """One-time work before the first call: the client library, and the built-in server's model. Blocking."""
        import openai  # noqa: F401  (importing it inside the first call would count against its timeout)

        if self.config.is_local:
            wait_until_loaded(self.base_url)

    @classmethod
    def for_pipeline(cls, workspace: Workspace, pipeline: str) -> ChatEndpoint:
        settings = workspace.settings
        name = settings.pipelines[pipeline].endpoint
        config = settings.endpoint_for(pipeline)
        return cls(name, config, resolve_base_url(workspace, config))

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return cost_usd(self.config, prompt_tokens, completion_tokens)

    async def complete(self, messages: list[dict[str, Any]], *, model: str, max_tokens: int = 256,
                       temperature: float = 0.0, on_delta: OnDelta | None = None) -> Reply:
        """Stream a chat completion, retrying 429/5xx/connection errors with backoff and jitter."""
        attempts = 1 + max(0, self.config.max_retries)
        started = time.perf_counter()
        for attempt in range(1, attempts + 1):
            emitted: list[str] = []

            def collect(piece: str) -> None:
                emitted.append(piece)
                if on_delta is not None:
                    on_delta(piece)

            try:
                result = await asyncio.wait_for(
                    self._stream(messages, model, max_tokens, temperature, collect), timeout=self.config.timeout_s
                )
            except Exception as exc:  # classified below; anything unknown is re-raised
                what, retryable = self._describe(exc)
                if not retryable or emitted or attempt == attempts:
                    tries = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
                    what = redact(what, [api_key_for(self.config, self.base_url)])  # an endpoint may echo the key it was sent
                    raise EndpointError(f"{self._where(model)}: {what} ({tries}).", self._hint(exc)) from exc
                await asyncio.sleep(self._backoff(attempt, exc))
                continue
            result.attempts = attempt
            result.latency_s = time.perf_counter() - started
            return result
        raise AssertionError("unreachable")

    async def _stream(self, messages, model, max_tokens, temperature, on_delta) -> Reply:
        client = _client(self.base_url, api_key_for(self.config, self.base_url), self.config.timeout_s)
        stream = await client.chat.completions.create(
            model=model, messages=messages, max_tokens=max_tokens, temperature=temperature,
            stream=True, stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        usage = None
        served_model = model
        async for chunk in stream:
            if not hasattr(chunk, "choices"):
                raise _Malformed(f"a stream chunk is not a chat completion chunk: {str(chunk)[:80]!r}")
            usage = getattr(chunk, "usage", None) or usage
            served_model = getattr(chunk, "model", None) or served_model
            for choice in chunk.choices or []:
                piece = getattr(choice.delta, "content", None) if choice.delta else None
                if piece:
                    pieces.append(piece)
                    on_delta(piece)
        text = "".join(pieces)
        if not text.strip():
            raise _Malformed("the endpoint returned an empty answer")
        if usage is not None and usage.prompt_tokens is not None and usage.completion_tokens is not None:
            return Reply(text=text, model=served_model, prompt_tokens=usage.prompt_tokens,
                              completion_tokens=usage.completion_tokens)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        return Reply(text=text, model=served_model, prompt_tokens=max(1, round(prompt_chars / CHARS_PER_TOKEN)),
                          completion_tokens=estimate_tokens(text), usage_estimated=True)

    def _where(self, model: str) -> str:
        return f"Endpoint {self.name!r} ({self.base_url}, model {model!r})"

    def _describe(self, exc: BaseException) -> tuple[str, bool]:
        """(what happened, whether another attempt may help)."""
        import openai

        if isinstance(exc, (asyncio.TimeoutError, openai.APITimeoutError)):
            # A hung endpoint is not retried: each retry would cost another full timeout.
            return f"no answer within {self.config.timeout_s:g} s", False
        if isinstance(exc, openai.APIConnectionError):
            return f"connection failed ({_cause(exc)})", True
        if isinstance(exc, openai.APIStatusError):
            return f"HTTP {exc.status_code}: {_status_detail(exc)}", exc.status_code in RETRY_STATUS
        if isinstance(exc, _Malformed):
            return f"bad response: {exc}", False
        if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, ValueError, TypeError,
                            AttributeError, KeyError)):
            return f"malformed response ({type(exc).__name__}: {str(exc)[:120]})", False
        raise exc

    def _hint(self, exc: BaseException) -> str:
        import openai

        if isinstance(exc, openai.AuthenticationError):
            return f"Check the key in ${self.config.api_key_env or 'the endpoint api_key_env variable'}."
        if isinstance(exc, openai.NotFoundError):
            return "Check the model name and that base_url ends with /v1."
        if isinstance(exc, openai.APIConnectionError):
            return "Is the server running? Check base_url in sandbox.toml (`sandbox serve` starts the local one)."
        if isinstance(exc, (asyncio.TimeoutError, openai.APITimeoutError)):
            return "Raise timeout_s for this endpoint in sandbox.toml, or lower max_tokens."
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 429:
            return "Rate limited: wait, raise max_retries, or lower eval concurrency."
        return "Check that the endpoint speaks the OpenAI chat completions API."

    def _backoff(self, attempt: int, exc: BaseException) -> float:
        """Exponential backoff with full jitter; a server's Retry-After (if short) wins."""
        retry_after = _retry_after(exc)
        if retry_after is not None:
            return min(retry_after, BACKOFF_MAX_S)
        return random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))


class _Malformed(Exception):
    """The endpoint answered, but not with a usable chat completion."""


def _cause(exc: BaseException) -> str:
    inner = exc.__cause__ or exc.__context__
    return f"{type(inner).__name__}: {inner}"[:160] if inner else str(exc)[:160]


def _status_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:200]
    return str(getattr(exc, "message", exc))[:200]


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
