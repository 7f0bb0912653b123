"""Small text helpers used across the package.

- ``words`` / ``plain``: text as words, for telling whether two texts say the same thing (case,
  punctuation and spacing do not count). Answer scoring has its own SQuAD-style normalisation
  in ``sandbox.metrics``.
- ``number``: one spelling per number, so ``08``/``8`` and ``2.50``/``2.5`` are the same fact.
- ``interval_text``: the one way a mean and its 95% interval are printed.
- ``redact``: error text from outside (an endpoint that echoes the key) without secret values.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (unicode letters, digits, underscore)."""
    return _WORD.findall(text.lower())


def number(token: str) -> str | None:
    """The canonical spelling of a number token (no leading zeros, no trailing decimal zeros:
    ``08`` -> ``8``, ``2.50`` -> ``2.5``, ``3.0`` -> ``3``); None when the token is not a number."""
    m = _NUMBER.fullmatch(token)
    if not m:
        return None
    whole, frac = str(int(m.group(1))), (m.group(2) or "").rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def plain(text: str) -> str:
    """The words of ``text`` joined by single spaces: a key under which near-identical texts meet."""
    return " ".join(words(text))


def interval_text(mean: float, low: float, high: float, fmt: str = ".2f") -> str:
    """``0.50 [0.40, 0.60]`` (``fmt=".0%"``: ``50% [40%, 60%]``)."""
    return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


REDACTED = "[redacted]"


def redact(text: str, secrets) -> str:
    """``text`` with every secret value replaced, longest first (a key may contain a shorter one)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
