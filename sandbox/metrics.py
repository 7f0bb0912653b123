"""Per-answer metrics and bootstrap intervals. Pure functions, no I/O.

Every metric returns a float in [0, 1] (or None when it does not apply, e.g. JSON
agreement when the reference is not JSON), so aggregates and charts treat them alike.

Groundedness ("is a RAG answer supported by its retrieved contexts?") is token-overlap
based, cheap and deterministic: ``context_support`` is the share of the answer's content
terms (lower-cased words that are not stop words) that occur in the retrieved contexts. An
answer made of words the contexts contain is very likely drawn from them; invented facts
(names, numbers) lower it. ``supported`` is ``context_support >= SUPPORT_THRESHOLD``.
Similarity to the reference is embedding based (cosine, workspace embedder; in ``sandbox.evaluate``).
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np

SUPPORT_THRESHOLD = 0.6
_WORD = re.compile(r"[a-z0-9]+(?:['_\-.][a-z0-9]+)*")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    also may must per via yes""".split()
)


# text ------------------------------------------------------------------------
def normalize(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens (keeps inner hyphens, apostrophes, dots: ``g-skrb``, ``3.5``)."""
    return _WORD.findall(text.lower())


def content_terms(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def exact_match(answer: str, reference: str) -> float:
    return float(normalize(answer) == normalize(reference))


def token_f1(answer: str, reference: str) -> float:
    """Harmonic mean of token precision and recall after normalisation (SQuAD F1)."""
    pred, gold = normalize(answer).split(), normalize(reference).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denom) if denom else 0.0


# JSON --------------------------------------------------------------------------
def parse_json(text: str) -> Any | None:
    """The JSON value in ``text`` (whole text, or inside a code fence), else None.

    Only the answer as given counts; we do not hunt for a JSON object inside prose,
    because "valid JSON" is what a downstream parser would accept.
    """
    body = _FENCE.sub("", text.strip()).strip()
    if not body or body[0] not in "[{":
        return None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return None


def json_valid(answer: str) -> float:
    return float(parse_json(answer) is not None)


def _canon(value: Any) -> Any:
    return normalize(value) if isinstance(value, str) else value


def json_agreement(answer: str, reference: str) -> dict[str, float] | None:
    """For a JSON-object reference: ``json_valid``, ``json_keys`` (share of reference keys present)
    and ``json_values`` (share of reference keys whose value matches, i.e. enum agreement).
    None when the reference is not a JSON object."""
    ref = parse_json(reference)
    if not isinstance(ref, dict) or not ref:
        return None
    got = parse_json(answer)
    if not isinstance(got, dict):
        return {"json_valid": float(got is not None), "json_keys": 0.0, "json_values": 0.0}
    keys = [k for k in ref if k in got]
    same = [k for k in keys if _canon(got[k]) == _canon(ref[k])]
    return {"json_valid": 1.0, "json_keys": len(keys) / len(ref), "json_values": len(same) / len(ref)}


# RAG ---------------------------------------------------------------------------
def context_support(answer: str, contexts: Sequence[str]) -> float | None:
    """Share of the answer's content terms found in the contexts (None without contexts)."""
    if not contexts:
        return None
    terms = content_terms(answer)
    if not terms:
        return 0.0
    vocab = set(words(" ".join(contexts)))
    return sum(t in vocab for t in terms) / len(terms)


def _source_names(source: str) -> set[str]:
    path = PurePosixPath(source.replace("\\", "/"))
    return {n.lower() for n in (str(path), path.name, path.stem) if len(n) > 2}


def cites(answer: str, sources: Sequence[str]) -> float | None:
    """1.0 when the answer names a retrieved document (path, file name or stem) or cites
    one by number (``[1]`` .. ``[k]``); None without contexts."""
    if not sources:
        return None
    low = answer.lower()
    if any(name in low for s in sources for name in _source_names(s)):
        return 1.0
    numbers = {int(n) for n in re.findall(r"\[(\d{1,2})\]", answer)}
    return float(any(1 <= n <= len(sources) for n in numbers))


def hit_at_k(source: str | None, retrieved: Sequence[str]) -> float | None:
    """1.0 when the question's ``source`` document is among the retrieved ones; None when
    the question names no source or nothing was retrieved (the pipeline does not retrieve)."""
    if not source or not retrieved:
        return None
    want = PurePosixPath(source.replace("\\", "/"))
    for got in retrieved:
        path = PurePosixPath(got.replace("\\", "/"))
        if path == want or path.name == want.name and len(want.parts) == 1:
            return 1.0
    return 0.0


# aggregates -------------------------------------------------------------------------
def bootstrap_ci(values: Sequence[float], *, seed: int = 0, n_resamples: int = 1000,
                 level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap interval of the mean, seeded so reports are
    reproducible. With one value the interval is that value; with none, NaNs."""
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if data.size == 0:
        return (float("nan"),) * 3
    mean = float(data.mean())
    if data.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return mean, float(low), float(high)
