"""Per-answer metrics and bootstrap intervals. Pure functions, no I/O.

Every metric returns a float in [0, 1] (or None when it does not apply, e.g. JSON
agreement when the reference is not JSON), so aggregates and charts treat them alike.

Groundedness ("is a RAG answer supported by its retrieved contexts?") is token-overlap
based, cheap and deterministic: ``context_support`` is the share of the answer's content
terms (lower-cased words that are not stop words) that occur in the retrieved contexts. An
answer made of words the contexts contain is very likely drawn from them; invented facts
(names, numbers) lower it. ``supported`` is ``context_support >= SUPPORT_THRESHOLD``.
Similarity to the reference is embedding based (cosine, workspace embedder; in ``sandbox.evaluate``).

Facts (``fact_recall``, ``key_fact``) are what a free-text reference is for: two fluent answers on
the same topic embed alike whether the number in them is right or wrong, so similarity cannot tell
an answer that states the fact from one that does not (see ``fact_terms`` for the normalisation).
``primary_metric`` picks the one metric a dataset is judged on from the shape of its references.
"""

from __future__ import annotations

import json
import re
import statistics
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from sandbox.text import number

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


# facts ---------------------------------------------------------------------------
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {
    w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)}
# 1,000 / 1 000 (no-break or thin space) / 1'000 -> 1000; "3,5" or "10, 200" are left alone.
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[,'\u00a0\u202f\u2009]\d{3})+(?![\d,]\d)")
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+|\n+")


def s_stem(word: str) -> str:
    """Harman's S-stemmer: folds plurals only, never mangles a term beyond recognition."""
    if len(word) > 4 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def _fold(text: str) -> str:
    """Compatibility forms and accents folded (``Inês`` -> ``Ines``, ``ﬁ`` -> ``fi``), thousands joined."""
    text = _THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group(0)), text)  # before NFKD turns no-break spaces into spaces
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _term(token: str) -> str:
    """One token's canonical form: lower case; numbers without leading zeros or trailing decimal
    zeros (``08`` -> ``8``, ``2.50`` -> ``2.5``, ``3.0`` -> ``3``); number words as digits; plurals folded."""
    low = token.lower()
    if (canonical := number(low)) is not None:
        return canonical
    if low in _NUMBER_WORDS:
        return _NUMBER_WORDS[low]
    return low if any(ch.isdigit() for ch in low) else s_stem(low)


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """(raw token, term, first word of its sentence) for every token of ``text``."""
    out = []
    for sentence in _SENTENCE.split(_fold(text)):
        first = True
        for raw in _TOKEN.findall(sentence):
            out.append((raw, _term(raw), first))
            first = first and not raw.isalpha()  # "(2019) Adopted ..." still starts with "Adopted"
    return out


def _is_content(raw: str, term: str) -> bool:
    """Not a stop word (checked before stemming too: "does" must not become the content word "doe")."""
    return raw.lower() not in STOPWORDS and term not in STOPWORDS and (len(term) > 1 or term.isdigit())


def fact_terms(text: str) -> list[str]:
    """The content words and numbers of ``text``, normalised for fact matching.

    Case and accents are folded; punctuation separates tokens (so ``TS3-EU868`` is ``ts3`` +
    ``eu868`` and ``employee's`` is ``employee``) except a decimal point between digits; thousands
    separators are removed (1,000 = 1000); number words up to twenty and the tens are digits
    (three = 3); plurals are folded by the S-stemmer (warranties = warranty), nothing more,
    so ``calibrate`` and ``calibration`` stay different. Stop words and single letters are dropped.
    """
    return [term for raw, term, _ in _tokens(text) if _is_content(raw, term)]


def fact_recall(answer: str, reference: str) -> float | None:
    """Share of the reference's distinct content terms (``fact_terms``) that the answer contains;
    None when the reference has none."""
    wanted = set(fact_terms(reference))
    if not wanted:
        return None
    return len(wanted & set(fact_terms(answer))) / len(wanted)


def key_terms(reference: str, question: str = "") -> set[str]:
    """The reference's key facts: its numbers (any token with a digit: amounts, dates, codes such as
    ``TS3-EU868`` or ``ISO 27001``) or, when it has none, its names (capitalised words that do not
    start a sentence, and all-caps words such as ``SLA``). Terms the question already contains are
    not facts the answer adds, so they are left out (``fact_terms`` normalisation)."""
    asked = {term for _, term, _ in _tokens(question)}
    numbers, names = set(), set()
    for raw, term, first in _tokens(reference):
        if term in asked or not _is_content(raw, term):
            continue
        if any(ch.isdigit() for ch in raw):
            numbers.add(term)
        elif raw[0].isupper() and (not first or (raw.isupper() and len(raw) > 1)):
            names.add(term)
    return numbers or names


def key_fact(answer: str, reference: str, question: str = "") -> float | None:
    """1.0 when the answer states at least one of the reference's key facts (``key_terms``), else 0.0;
    None when the reference has no number or name beyond the question's.

    "At least one", not "all": references add context (a headcount "on 30 September 2025"),
    and a correct short answer ("41 people") must not score 0 for leaving the date out."""
    keys = key_terms(reference, question)
    if not keys:
        return None
    return float(bool(keys & {term for _, term, _ in _tokens(answer)}))


def is_free_text(reference: str) -> bool:
    """Free text, i.e. not a JSON object (whose fields ``json_agreement`` scores instead)."""
    return not isinstance(parse_json(reference), dict)


SHORT_LABEL_WORDS = 3


def primary_metric(references: Sequence[str | None]) -> tuple[str, str]:
    """(metric, why): the one metric a dataset's answers are judged on, from its references' shape
    alone (decided before any answer is seen, so it cannot be picked to favour a pipeline)."""
    refs = [r for r in references if r and r.strip()]
    if not refs:
        return "", "no references to score against"
    json_share = sum(not is_free_text(r) for r in refs) / len(refs)
    if json_share >= 0.5:
        return "json_values", (f"{json_share:.0%} of references are JSON objects: the share of fields whose value "
                               "matches is the task's success criterion; one wrong enum barely moves similarity")
    length = statistics.median(len(normalize(r).split()) for r in refs)
    if length <= SHORT_LABEL_WORDS:
        return "exact_match", (f"references are short labels (median {length:g} words): an answer is the label "
                               "or it is not")
    return "fact_recall", ("free-text references: the share of their content words and numbers the answer states; "
                           "embedding similarity scores fluent on-topic answers alike whether their facts are right "
                           "or not, and token F1 is dominated by phrasing")


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


def paired_bootstrap_diff(a: Sequence[float], b: Sequence[float], *, seed: int = 0, n_resamples: int = 2000,
                          level: float = 0.95) -> tuple[float, float, float]:
    """(mean of a - b, low, high) over pairs (the same question answered two ways): resampling the
    questions, not each side alone, so what the questions share cancels out. Pairs with a None drop."""
    pairs = np.asarray([(x, y) for x, y in zip(a, b) if x is not None and y is not None], dtype=float)
    if pairs.size == 0:
        return (float("nan"),) * 3
    return bootstrap_ci(pairs[:, 0] - pairs[:, 1], seed=seed, n_resamples=n_resamples, level=level)
