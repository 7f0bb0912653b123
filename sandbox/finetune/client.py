"""Provider-agnostic fine-tuning client over the ``openai`` package.

The same code drives the local server's OpenAI-shaped API and any endpoint that speaks
OpenAI's fine-tuning API (OpenAI itself, chosen with ``--endpoint NAME``). Refusals
(fine-tuning not available to the account, quota, invalid file) become one FineTuneError
that says what happened and suggests the local provider.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from sandbox.endpoints import api_key_for, resolve_base_url
from sandbox.errors import FineTuneError
from sandbox.finetune.state import TERMINAL

REFUSALS = {400: "the request or file was refused", 401: "the API key was refused",
            403: "fine-tuning is not available to this account", 404: "the model or file was not found",
            429: "the account is over its quota or rate limit"}
LOCAL_HINT = "Train locally instead: sandbox finetune start DATASET --provider local (LoRA on the built-in model, no account needed)."


def make_client(workspace, endpoint: str = "local"):
    """An OpenAI client for a named endpoint of the workspace ("local" = the built-in server)."""
    from openai import OpenAI

    settings = workspace.settings
    if endpoint not in settings.endpoints:
        raise FineTuneError(f"No endpoint named {endpoint!r}.",
                            f"Define [endpoints.{endpoint}] in sandbox.toml (available: {', '.join(settings.endpoints)}).")
    config = settings.endpoints[endpoint]
    base_url = resolve_base_url(workspace, config)
    return OpenAI(base_url=base_url, api_key=api_key_for(config, base_url), timeout=max(config.timeout_s, 120), max_retries=config.max_retries)


def _refusal(exc: Exception, action: str) -> FineTuneError:
    import openai

    if isinstance(exc, openai.APIStatusError):
        why = REFUSALS.get(exc.status_code, f"the endpoint answered HTTP {exc.status_code}")
        detail = getattr(exc, "message", "") or str(exc)
        return FineTuneError(f"Could not {action}: {why} (HTTP {exc.status_code}: {detail}).", LOCAL_HINT)
    if isinstance(exc, openai.APIConnectionError):
        return FineTuneError(f"Could not {action}: the endpoint is unreachable ({exc}).", LOCAL_HINT)
    raise exc


def call(action: str, fn: Callable, *args, **kwargs):
    import openai

    try:
        return fn(*args, **kwargs)
    except openai.OpenAIError as exc:
        raise _refusal(exc, action) from exc


def upload(client, data: bytes, filename: str) -> str:
    return call(f"upload {filename}", client.files.create, file=(filename, data), purpose="fine-tune").id


def create(client, *, model: str, training_file: str, validation_file: str | None = None, n_epochs: int | None = None,
           batch_size: int | None = None, learning_rate_multiplier: float | None = None, suffix: str | None = None,
           metadata: dict[str, str] | None = None):
    hp: dict[str, Any] = {k: v for k, v in {"n_epochs": n_epochs, "batch_size": batch_size,
                                            "learning_rate_multiplier": learning_rate_multiplier}.items() if v is not None}
    kwargs: dict[str, Any] = {"model": model, "training_file": training_file}
    if validation_file:
        kwargs["validation_file"] = validation_file
    if hp:
        kwargs["method"] = {"type": "supervised", "supervised": {"hyperparameters": hp}}
    if suffix:
        kwargs["suffix"] = suffix
    if metadata:  # which dataset a job trains for, so the app can show its progress
        kwargs["metadata"] = metadata
    return call("create the fine-tuning job", client.fine_tuning.jobs.create, **kwargs)


def metrics(client, job_id: str, limit: int = 100) -> list[dict]:
    """Step metrics (oldest first) from the job's events."""
    events = call("read job events", client.fine_tuning.jobs.list_events, job_id, limit=limit)
    out = []
    for event in events.data:
        data = event.data if isinstance(event.data, dict) else {}
        if event.type == "metrics" or "step" in data and "train_loss" in data:
            out.append(data)
    return sorted(out, key=lambda d: d.get("step", 0))


def follow(client, job_id: str, on_update: Callable[[Any, list[dict]], None] = lambda job, m: None,
           poll_s: float = 2.0, timeout_s: float | None = None):
    """Poll until the job ends; ``on_update(job, step_metrics)`` after each poll."""
    started = time.time()
    while True:
        job = call("read the job", client.fine_tuning.jobs.retrieve, job_id)
        on_update(job, metrics(client, job_id))
        if job.status in TERMINAL:
            return job
        if timeout_s is not None and time.time() - started > timeout_s:
            raise FineTuneError(f"Job {job_id} still {job.status} after {timeout_s:.0f}s.",
                                f"Follow it later with: sandbox finetune status {job_id}")
        time.sleep(poll_s)
