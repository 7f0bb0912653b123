"""Text as words, for telling whether two texts say the same thing: case, punctuation and spacing do not count.

(Answer scoring has its own SQuAD-style normalisation in ``sandbox.metrics``.)
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (unicode letters, digits, underscore)."""
    return _WORD.findall(text.lower())


def plain(text: str) -> str:
    """The words of ``text`` joined by single spaces: a key under which near-identical texts meet."""
    return " ".join(words(text))
