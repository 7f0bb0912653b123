"""Domain errors. Every message says what went wrong *and* how to fix it.

The CLI and the UI turn these into one friendly line; the library never prints.
"""

from __future__ import annotations

from pathlib import Path


class SandboxError(Exception):
    """Base class: ``message`` says what happened, ``hint`` how to fix it."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  Fix: {self.hint}" if self.hint else self.message


class ConfigError(SandboxError):
    """sandbox.toml or SANDBOX_* settings are invalid."""


class DataError(SandboxError):
    """A user-supplied file (documents, examples, questions) is broken.

    ``path`` and ``line`` locate the problem; the message starts with them.
    """

    def __init__(self, path: str | Path, message: str, hint: str = "", line: int | None = None):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}", hint)
        self.path = str(path)
        self.line = line


class DatasetNotFound(SandboxError):
    """The named dataset has no folder under corpora/."""


class IndexStateError(SandboxError):
    """The index is missing, stale, or built with another embedder."""


class EndpointError(SandboxError):
    """An OpenAI-compatible endpoint failed (after retries) or answered nonsense."""


class PipelineError(SandboxError):
    """One pipeline's run failed (its record, error included, is stored already); ``run_id`` names it."""

    def __init__(self, message: str, hint: str = "", run_id: str = ""):
        super().__init__(message, hint)
        self.run_id = run_id


class FineTuneError(SandboxError):
    """A fine-tuning job could not be created or failed."""


class InvalidRequest(FineTuneError):
    """A 400 from a fine-tuning backend: the request or its files are unusable (message says which line and why)."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_request"):
        super().__init__(message)
        self.param, self.code = param, code


class StoreError(SandboxError):
    """The store (SQLite file or PostgreSQL server) cannot be opened or written."""
