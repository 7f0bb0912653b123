"""What the judgments say: win rates with Wilson intervals, Bradley–Terry strengths, breakdowns,
agreement between judges, and how many more judgments would separate the top two.

Pure functions over ``Judgment`` records (the Judgments tab and ``sandbox judgments summary``
print the same ``summarize`` result). numpy is imported inside the function that needs it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from itertools import combinations

from sandbox.errors import SandboxError
from sandbox.questions import load_questions
from sandbox.records import Judgment
from sandbox.text import plain

Z95 = 1.959963984540054


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there is no data."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # rounding can put a bound a hair past p (0 wins: low = 5.6e-17 > 0); the interval always holds p
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def pipelines_of(judgments: Iterable[Judgment]) -> list[str]:
    seen: dict[str, None] = {}
    for j in judgments:
        for p in j.shown_order:
            seen.setdefault(p, None)
    return list(seen)


def winner(j: Judgment) -> str | None:
    """The pipeline a judgment prefers: the best pick, else the one ranked 1."""
    if j.verdict != "best":
        return None
    return j.best or (min(j.ranks, key=j.ranks.get) if j.ranks else None)


def win_rates(judgments: Sequence[Judgment]) -> list[dict]:
    """Per pipeline: how often it was picked best among the judgments that showed it.

    Ties and "all bad" count as shown but not won, so rates need not sum to 1. The interval is Wilson's
    when every comparison has one judgment; when several judges judged the same comparisons (a judging
    session) their votes are not independent, so it is a bootstrap over comparisons instead (30 judges on
    20 items are 20 items of evidence, not 600).
    """
    shown, wins = Counter(), Counter()
    by_comparison: dict[str, Counter] = defaultdict(Counter)  # comparison -> "shown:p" / "won:p" counts
    for j in judgments:
        shown.update(set(j.shown_order))
        by_comparison[j.comparison_id].update(f"shown:{p}" for p in set(j.shown_order))
        if best := winner(j):
            wins[best] += 1
            by_comparison[j.comparison_id][f"won:{best}"] += 1
    clustered = len(by_comparison) < len(judgments)
    rows = []
    for p in pipelines_of(judgments):
        lo, hi = _cluster_interval(by_comparison.values(), p) if clustered else wilson(wins[p], shown[p])
        rows.append({"pipeline": p, "wins": wins[p], "judgments": shown[p],
                     "win_rate": wins[p] / shown[p] if shown[p] else 0.0, "ci_low": lo, "ci_high": hi})
    return sorted(rows, key=lambda r: -r["win_rate"])


def _cluster_interval(comparisons: Iterable[Counter], pipeline: str, resamples: int = 2000,
                      seed: int = 20240601) -> tuple[float, float]:
    """95% percentile bootstrap of wins/shown, resampling whole comparisons (a cluster of judges' votes)."""
    import numpy as np

    counts = np.array([(c[f"won:{pipeline}"], c[f"shown:{pipeline}"]) for c in comparisons if c[f"shown:{pipeline}"]],
                      dtype=float)
    if len(counts) < 2:
        return wilson(counts[:, 0].sum(), int(counts[:, 1].sum())) if len(counts) else (0.0, 1.0)
    picks = np.random.default_rng(seed).integers(0, len(counts), size=(resamples, len(counts)))
    rates = counts[picks, 0].sum(axis=1) / counts[picks, 1].sum(axis=1)
    low, high = np.percentile(rates, [2.5, 97.5])
    return float(low), float(high)


def pairwise(judgment: Judgment) -> list[tuple[str, str, float]]:
    """(a, b, score of a against b) pairs a judgment implies: 1 a won, 0.5 tie.

    Full ranks give every pair; a best pick beats each other answer; "tie" ties all pairs;
    "all bad" says nothing about preference.
    """
    if judgment.ranks:
        ranked = sorted(judgment.ranks, key=judgment.ranks.get)
        return [(a, b, 1.0) for a, b in combinations(ranked, 2)]
    if judgment.verdict == "best" and judgment.best:  # a pick without ranks
        return [(judgment.best, p, 1.0) for p in judgment.shown_order if p != judgment.best]
    if judgment.verdict == "tie":
        return [(a, b, 0.5) for a, b in combinations(judgment.shown_order, 2)]
    return []


def bradley_terry(judgments: Sequence[Judgment], prior: float = 0.1, iterations: int = 1000,
                  tol: float = 1e-10) -> dict[str, float]:
    """Bradley–Terry strengths (summing to 1) by Hunter's MM algorithm.

    ``prior`` adds that many pseudo-wins each way to every compared pair so a pipeline that
    never (or always) won keeps a finite strength; ``prior=0`` is the plain maximum likelihood.
    """
    import numpy as np

    names = pipelines_of(judgments)
    if not names:
        return {}
    index = {p: i for i, p in enumerate(names)}
    wins = np.zeros((len(names), len(names)))  # wins[i, j]: times i beat j (ties count half)
    for j in judgments:
        for a, b, score in pairwise(j):
            wins[index[a], index[b]] += score
            wins[index[b], index[a]] += 1 - score
    games = wins + wins.T
    wins = wins + prior * (games > 0)
    games = wins + wins.T
    strength = np.ones(len(names)) / len(names)
    total_wins = wins.sum(axis=1)
    for _ in range(iterations):
        pair_sum = strength[:, None] + strength[None, :]
        denom = (games / np.where(pair_sum > 0, pair_sum, 1)).sum(axis=1)
        new = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1), strength)
        new = new / new.sum() if new.sum() > 0 else strength
        if np.abs(new - strength).max() < tol:
            strength = new
            break
        strength = new
    return {p: float(strength[index[p]]) for p in names}


def question_key(j: Judgment) -> tuple[str, str]:
    """Judgments are "on the same question" when dataset and question id (or its words) match."""
    return j.dataset, j.question_id or plain(j.user_input)


def choice(j: Judgment) -> str:
    return winner(j) or j.verdict


def fleiss_kappa(items: Sequence[Mapping[str, int]]) -> dict:
    """Fleiss' kappa: ``items`` holds each rated item's count of ratings per category.

    Items rated fewer than twice say nothing about agreement and are left out; the number of
    raters may differ between items (each item's agreement uses its own count, as in Fleiss'
    generalisation). ``agreement`` is the mean share of agreeing rater pairs per item (P̄),
    ``chance`` the agreement the pooled category shares predict (P_e); kappa is None when undefined.
    """
    rated = [counts for counts in items if sum(counts.values()) >= 2]
    if not rated:
        return {"items": 0, "agreement": None, "chance": None, "kappa": None}
    observed = sum(sum(k * (k - 1) for k in c.values()) / (sum(c.values()) * (sum(c.values()) - 1))
                   for c in rated) / len(rated)
    pooled: Counter = Counter()
    for counts in rated:
        pooled.update(counts)
    total = sum(pooled.values())
    chance = sum((v / total) ** 2 for v in pooled.values())
    kappa = (observed - chance) / (1 - chance) if chance < 1 else None
    return {"items": len(rated), "agreement": observed, "chance": chance, "kappa": kappa}


def agreement(judgments: Sequence[Judgment], key: Callable[[Judgment], Hashable] = question_key) -> dict:
    """How much judges who judged the same item agree on the choice (best pipeline / tie / all-bad).

    Items are questions by default; a session passes ``comparison_id`` so agreement is measured on
    identical answers. Each judge counts once per item (their latest vote). ``agreement`` is the mean
    share of agreeing judge pairs per item, ``kappa`` Fleiss' kappa (see ``fleiss_kappa``).
    """
    latest: dict[Hashable, dict[str, str]] = defaultdict(dict)
    for j in sorted(judgments, key=lambda j: j.created_at):
        latest[key(j)][j.judge] = choice(j)
    items = [Counter(votes.values()) for votes in latest.values()]
    pairs = sum(math.comb(len(votes), 2) for votes in latest.values())
    fleiss = fleiss_kappa(items)
    return {"questions": fleiss["items"], "pairs": pairs, "agreement": fleiss["agreement"], "kappa": fleiss["kappa"]}


def position_bias(judgments: Sequence[Judgment]) -> dict[str, dict]:
    """Per judge: how often the pick was the left column (A) against the share a shuffled order
    predicts (1 / number of columns, on average). ``biased`` when the 95% Wilson interval of the
    observed share excludes the expected one: the judge picks by position, not by content."""
    picks: dict[str, list[Judgment]] = defaultdict(list)
    for j in judgments:
        if j.verdict == "best" and j.best in j.shown_order:
            picks[j.judge].append(j)
    out = {}
    for judge, chosen in sorted(picks.items()):
        left = sum(j.shown_order[0] == j.best for j in chosen)
        expected = sum(1 / len(j.shown_order) for j in chosen) / len(chosen)
        lo, hi = wilson(left, len(chosen))
        out[judge] = {"picks": len(chosen), "left": left, "share": left / len(chosen), "expected": expected,
                      "ci_low": lo, "ci_high": hi, "biased": not lo <= expected <= hi}
    return out


def judgments_needed(judgments: Sequence[Judgment], top: Sequence[str] | None = None, z: float = Z95) -> dict:
    """More judgments needed before the top two pipelines' head-to-head differs from 50:50 at 95%.

    Uses their head-to-head share p over n comparisons: a normal-approximation interval
    excludes 0.5 once n >= z²·p(1−p)/(p−0.5)², assuming p stays where it is.
    """
    strengths = bradley_terry(judgments)
    if top is None:
        top = sorted(strengths, key=lambda p: -strengths[p])[:2]
    if len(top) < 2:
        return {"top": list(top), "head_to_head": 0, "share": None, "more": None, "reason": "fewer than two pipelines judged"}
    a, b = top
    score = n = 0.0
    judged_with_both = 0
    for j in judgments:
        if a in j.shown_order and b in j.shown_order:
            judged_with_both += 1
        for x, y, s in pairwise(j):
            if {x, y} == {a, b}:
                n += 1
                score += s if x == a else 1 - s
    if n == 0:
        return {"top": [a, b], "head_to_head": 0, "share": None, "more": None, "reason": "no head-to-head preference yet"}
    p = score / n
    if abs(p - 0.5) < 1e-12:
        return {"top": [a, b], "head_to_head": int(n), "share": p, "more": None, "reason": "no difference observed (50:50)"}
    needed = math.ceil(z * z * p * (1 - p) / (p - 0.5) ** 2)
    per_judgment = n / judged_with_both if judged_with_both else 1.0  # tie / all-bad votes give no comparison
    more_pairs = max(0, needed - int(n))
    return {"top": [a, b], "head_to_head": int(n), "share": p, "needed_total": needed,
            "more": math.ceil(more_pairs / per_judgment), "reason": ""}


def breakdown(judgments: Sequence[Judgment], key) -> dict[str, list[dict]]:
    """Win rates per group; ``key(judgment)`` returns the group names a judgment belongs to."""
    groups: dict[str, list[Judgment]] = defaultdict(list)
    for j in judgments:
        for group in key(j):
            groups[group].append(j)
    return {g: win_rates(js) for g, js in sorted(groups.items())}


def tag_counts(judgments: Sequence[Judgment]) -> dict[str, dict[str, int]]:
    """How often judges put each tag on each pipeline's answers."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for j in judgments:
        for p, tags in j.tags.items():
            counts[p].update(tags)
    return {p: dict(c) for p, c in counts.items()}


def mean_ratings(judgments: Sequence[Judgment]) -> dict[str, dict]:
    values: dict[str, list[int]] = defaultdict(list)
    for j in judgments:
        for p, r in j.ratings.items():
            values[p].append(r)
    return {p: {"mean": sum(v) / len(v), "n": len(v)} for p, v in values.items()}


def summarize(judgments: Sequence[Judgment], question_tags: dict[tuple[str, str], list[str]] | None = None) -> dict:
    """Everything the Judgments tab and ``sandbox judgments summary --json`` show."""
    question_tags = question_tags or {}
    return {
        "judgments": len(judgments),
        "judges": sorted({j.judge for j in judgments}),
        "verdicts": dict(Counter(j.verdict for j in judgments)),
        "win_rates": win_rates(judgments),
        "bradley_terry": bradley_terry(judgments),
        "ratings": mean_ratings(judgments),
        "answer_tags": tag_counts(judgments),
        "by_question_tag": breakdown(judgments, lambda j: question_tags.get((j.dataset, j.question_id)) or ["(untagged)"]),
        "by_judge": breakdown(judgments, lambda j: [j.judge]),
        "agreement": agreement(judgments),
        "separation": judgments_needed(judgments),
    }


def question_tags(workspace, datasets: Sequence[str] | None = None) -> dict[tuple[str, str], list[str]]:
    """(dataset, question id) -> tags from each dataset's questions.jsonl; broken files are skipped."""
    out: dict[tuple[str, str], list[str]] = {}
    for name in datasets or workspace.datasets():
        path = workspace.dataset_dir(name) / "questions.jsonl"
        if path.is_file():
            try:
                questions = load_questions(path)
            except SandboxError:
                continue
            out.update({(name, q.id): q.tags for q in questions})
    return out


def describe_separation(sep: dict) -> str:
    """One sentence on how far the evidence is from separating the top two."""
    if sep.get("more") is None:
        reason = sep.get("reason") or "not enough data"
        return f"Top two: {' vs '.join(sep.get('top', [])) or '—'}; cannot estimate judgments needed ({reason})."
    a, b = sep["top"]
    if sep["more"] == 0:
        return f"{a} is preferred over {b} in {sep['share']:.0%} of {sep['head_to_head']} head-to-heads: separated at 95%."
    return (f"{a} beats {b} in {sep['share']:.0%} of {sep['head_to_head']} head-to-heads; about {sep['more']} more "
            f"judgment(s) would separate them at 95% if that share holds.")
