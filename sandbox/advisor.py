"""The decision framework, applied to this dataset's evidence.

Two questions, answered in order by the rules in ``sandbox.rules`` (each rule votes on one only):

1. **Retrieve or not?** The knowledge rule alone: answers that need facts found only in the
   documents → ``rag``.
2. **Fine-tune or prompt?** Format, domain language and cost vote; simple instructions vote for
   prompting; data volume scales the fine-tuning votes (×0 below 50 examples, ×1.25 at 500+).

The data verdict is ``rag`` when (1) says retrieve, else ``fine-tuned`` or ``few-shot`` from (2).
Named combinations go in ``also``: retrieve + a fine-tuning case → ``rag`` also ``fine-tuned``
(RAG for the facts, fine-tune the generator on the format); a fine-tuning case waiting for data →
``few-shot`` now, also ``fine-tuned`` once the examples reach the minimum.

Measured evidence — eval results on the dataset's primary metric (95% bootstrap intervals), human
judgments, LLM-judge judgments (95% Wilson intervals) — overrules that verdict only when the
leader is measurably ahead of every other pipeline (``sandbox.separation``: paired over the eval's
questions, intervals compared for judgments); otherwise it is reported and the data decide.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sandbox import PIPELINES
from sandbox.costs import TRAIN_EPOCHS, CostEstimate, estimate_cost
from sandbox.curve_records import load_curve
from sandbox.errors import SandboxError
from sandbox.evaluate import EvalSummary, load_summary
from sandbox.finetune.launch import run_preflight
from sandbox.judgment_stats import win_rates
from sandbox.rules import (GOOD_EXAMPLES, MEASURED, MIN_EXAMPLES, RETRIEVAL, FINE_TUNING, Reason, TuningAnswer,
                           answer_tuning, curve_volume_factor, data_reasons, retrieve_threshold, should_retrieve)
from sandbox.separation import Scored, gaps
from sandbox.signals import DataSignals, compute_signals
from sandbox.store import open_store
from sandbox.text import interval_text

__all__ = ["Advice", "CostEstimate", "Reason", "advise", "decide", "estimate_cost", "judgment_rates"]

MIN_JUDGMENTS = 5  # fewer judgments per pipeline than this say nothing about it
# Metrics that stand for quality when the eval's primary metric (``quality_metric``) is missing or was
# measured on fewer than two pipelines, best first (as in sandbox.evaluate): JSON field values for
# structured references, facts recalled for free-text ones, then overlap measures.
FALLBACK_METRICS = ("json_values", "fact_recall", "key_fact", "similarity", "token_f1")
# Who overrules first when several kinds of measured evidence separate: people, then the eval, then a model.
MEASURED_PRIORITY = ("human-judgments", "measured-quality", "llm-judge")
DATA_CONFIDENCE_CAP = 0.75  # data signals alone never make us sure
MEASURED_AGREES, MEASURED_OVERRULES = 0.9, 0.8  # confidence when separated evidence confirms / overturns


class Advice(BaseModel):
    dataset: str
    recommendation: str
    also: str | None = Field(None, description="the complementary approach of a named combination")
    confidence: float
    reasons: list[Reason]
    next_steps: list[str]
    answers: dict[str, str] = Field(default_factory=dict, description="decision -> its answer in one line")
    why_not: dict[str, str] = Field(default_factory=dict, description="losing pipeline -> why not, in one line")
    measured: bool = False
    signals: DataSignals | None = None
    cost: CostEstimate | None = None

    def top_reason(self) -> str:
        """The heaviest reason in favour of the recommendation (any reason if none favours it)."""
        backing = [r for r in self.reasons if r.favours == self.recommendation] or list(self.reasons)
        best = max(backing, key=lambda r: getattr(r, "weight", 0.0), default=None)
        return best.evidence if best else ""

    def contract(self) -> dict[str, Any]:
        """The ``advise --json`` shape (plus answers, why_not, signals and cost for reports)."""
        return self.model_dump(mode="json")


# measured evidence ------------------------------------------------------------------------------------
def _separation(rule: str, rows: list[Scored], ev: str) -> Reason:
    """Favours the leader only when it is measurably ahead of every other pipeline (sandbox.separation)."""
    leader, behind = gaps(rows)
    touching = [g.other for g in behind if not g.separated]
    if touching:
        return Reason(rule=rule, decision=MEASURED, evidence=f"{ev}: {leader.pipeline} is not measurably ahead of "
                      f"{', '.join(touching)} ({'; '.join(g.text() for g in behind if not g.separated)}), "
                      "so it does not overrule the data signals")
    return Reason(rule=rule, decision=MEASURED, favours=leader.pipeline, weight=1.0,
                  evidence=f"{ev}: {leader.pipeline} is clearly better ({'; '.join(g.text() for g in behind)}), "
                  "which overrules the data signals")


def measured_metric(summary, candidates: list[str]) -> str | None:
    """The eval's primary metric when it measured two candidates or more, else the first fallback that did."""
    names = [summary.quality_metric] if summary.quality_metric else []
    names += [m for m in FALLBACK_METRICS if m not in names]
    return next((m for m in names if sum(p in summary.pipelines and m in summary.pipelines[p].metrics
                                         for p in candidates) >= 2), None)


def rule_measured(summary, candidates: list[str]) -> list[Reason]:
    if summary is None or not summary.measured or not (metric := measured_metric(summary, candidates)):
        return []
    rows = [Scored(p, iv.mean, iv.low, iv.high, summary.pipelines[p].scores(metric)) for p in candidates
            if p in summary.pipelines and (iv := summary.pipelines[p].metrics.get(metric))]
    n = max(summary.pipelines[r.pipeline].metrics[metric].n for r in rows)
    reason = getattr(summary, "quality_reason", "")
    role = (f"primary metric: {reason}" if reason else "primary metric") if metric == summary.quality_metric else \
        f"fallback: {summary.quality_metric or 'no primary metric'} not measured on two pipelines"
    ev = f"{metric} ({role}; n={n}, 95% bootstrap): " + ", ".join(f"{r.pipeline} {interval_text(r.mean, r.low, r.high)}" for r in rows)
    return [_separation("measured-quality", rows, ev)]


def rule_judgments(rates: dict[str, tuple[float, float, float, int]], kind: str) -> list[Reason]:
    """``rates``: pipeline -> (win rate, Wilson low, Wilson high, n judgments)."""
    rows = [Scored(p, r[0], r[1], r[2]) for p, r in rates.items() if r[3] >= MIN_JUDGMENTS]
    if len(rows) < 2:
        return []
    n = max(r[3] for r in rates.values())
    ev = (f"win rate over {n} {kind} judgments (95% Wilson): "
          + ", ".join(f"{r.pipeline} {interval_text(r.mean, r.low, r.high, '.0%')}" for r in rows))
    return [_separation("human-judgments" if kind == "human" else "llm-judge", rows, ev)]


def overruling(reasons: list[Reason]) -> Reason | None:
    separated = [r for r in reasons if r.decision == MEASURED and r.favours]
    return min(separated, key=lambda r: MEASURED_PRIORITY.index(r.rule), default=None)


# verdict --------------------------------------------------------------------------------------------
def retrieval_confidence(s: DataSignals) -> float:
    if not s.n_docs:
        return 1.0  # nothing to retrieve: certain
    if s.knowledge_need is None:
        return 0.6  # documents alone, unmeasured
    at = retrieve_threshold(s)
    return 0.5 + 0.5 * min(1.0, abs(s.knowledge_need - at) / at)


def combination(rec: str, retrieve: bool, tuning: TuningAnswer) -> str | None:
    """The complement of a named combination, if any."""
    if rec == "rag" and (tuning.fine_tune or tuning.deferred):
        return "fine-tuned"  # knowledge + strict format / jargon: RAG for facts, fine-tune the generator
    if rec == "few-shot" and tuning.deferred:
        return "fine-tuned"  # a fine-tuning case without enough examples yet
    if rec == "fine-tuned" and retrieve:
        return "rag"
    return None


def decide(signals: DataSignals, *, cost=None, summary=None, human_rates=None, llm_rates=None,
           fine_tuned_available: bool = True, curve=None) -> Advice:
    """Answer retrieve-or-not, then fine-tune-or-prompt; let separated measurements overrule.
    ``curve``: the read-out of the dataset's learning curve, which answers the data-volume question."""
    reasons = data_reasons(signals, cost, curve)
    retrieve = should_retrieve(signals)
    tuning = answer_tuning(reasons, signals.n_examples, curve_volume_factor(curve) if curve is not None else None)
    data_rec = "rag" if retrieve else "fine-tuned" if tuning.fine_tune else "few-shot"
    confidence = retrieval_confidence(signals) if retrieve else min(retrieval_confidence(signals), tuning.confidence)
    confidence = min(confidence, DATA_CONFIDENCE_CAP)
    # Without a fine-tuned model, the "fine-tuned" pipeline ran the base model: its measurements say
    # nothing about fine-tuning, so it is left out of measured comparisons.
    candidates = [p for p in PIPELINES if fine_tuned_available or p != "fine-tuned"]
    measured = (rule_judgments(human_rates or {}, "human") + rule_measured(summary, candidates)
                + rule_judgments(llm_rates or {}, "llm"))
    reasons += measured
    decisive = overruling(measured)
    rec = decisive.favours if decisive else data_rec
    if decisive:
        confidence = MEASURED_AGREES if rec == data_rec else MEASURED_OVERRULES
    advice = Advice(dataset=signals.dataset, recommendation=rec, also=combination(rec, retrieve, tuning),
                    confidence=round(confidence, 2), reasons=reasons, next_steps=[],
                    answers=answers(signals, retrieve, tuning, decisive),
                    measured=bool(measured), signals=signals, cost=cost)
    advice.why_not = why_not(advice, retrieve, tuning, decisive)
    advice.next_steps = next_steps(advice, summary, fine_tuned_available, bool(human_rates), curve)
    return advice


def _tuning_sum(t: TuningAnswer) -> str:
    return (f"fine-tuning votes {t.votes_for:g} ({', '.join(t.for_rules) or 'none'}) ×{t.factor:g} for data volume = "
            f"{t.scaled:g} vs prompting {t.votes_against:g} ({', '.join(t.against_rules) or 'none'})")


def answers(s: DataSignals, retrieve: bool, t: TuningAnswer, decisive: Reason | None) -> dict[str, str]:
    need = "unmeasured" if s.knowledge_need is None else f"{s.knowledge_need:.0%}"
    tuning = ("fine-tune" if t.fine_tune else f"fine-tune once examples reach {MIN_EXAMPLES}" if t.deferred
              else "prompt") + f": {_tuning_sum(t)}"
    out = {RETRIEVAL: ("retrieve" if retrieve else "don't retrieve") + f" (knowledge need {need}, "
                      f"threshold {retrieve_threshold(s):.0%}, {s.n_docs} documents)",
           FINE_TUNING: tuning if s.n_examples else "prompt: no examples, nothing to fine-tune on"}
    if decisive:
        out[MEASURED] = f"{decisive.favours} ({decisive.rule}: measurably ahead)"
    return out


def why_not(advice: Advice, retrieve: bool, t: TuningAnswer, decisive: Reason | None) -> dict[str, str]:
    s, rec = advice.signals, advice.recommendation
    knowledge = next(r for r in advice.reasons if r.rule == "knowledge")
    out = {}
    for p in (p for p in PIPELINES if p != rec):
        if decisive:
            out[p] = f"{decisive.rule}: {rec} is measurably ahead of {p}"
        elif p == "rag":
            out[p] = f"knowledge: {knowledge.evidence}"
        elif rec == "rag":
            share = "the" if s.knowledge_need is None else f"{s.knowledge_need:.0%} of the"
            lack = f"{share} answers need document facts that " + (
                "fine-tuning does not reliably add" if p == "fine-tuned" else "a prompt without the documents lacks")
            out[p] = f"knowledge: {lack}" + (" (fine-tune alongside RAG: see also)" if p == advice.also else "")
        elif p == "fine-tuned" and not s.n_examples:
            out[p] = "data-volume: no examples to train on"
        elif p == "fine-tuned" and t.deferred:
            out[p] = f"data-volume: {s.n_examples} examples < {MIN_EXAMPLES}, the minimum to fine-tune on ({_tuning_sum(t)})"
        else:
            short = f"; and {s.n_examples} examples < {MIN_EXAMPLES}" if p == "fine-tuned" and s.n_examples < MIN_EXAMPLES else ""
            out[p] = f"fine-tune or prompt: {_tuning_sum(t)}{short}"
    return out


def next_steps(advice: Advice, summary, fine_tuned_available: bool, judged: bool, curve=None) -> list[str]:
    s, d, rec = advice.signals, advice.dataset, advice.recommendation
    steps = []
    tuning_case = "fine-tuned" in (rec, advice.also)
    if tuning_case and curve is None and s.n_examples >= MIN_EXAMPLES:
        steps.append(f"Measure how many examples you need: `sandbox curve {d}` fine-tunes on growing subsets.")
    if tuning_case and curve is not None and curve.shape == "rising" and curve.gain:
        steps.append(f"Collect more examples: doubling to {curve.gain.next_size} is expected to add "
                     f"{curve.gain.mean:+.2f} {curve.metric} (learning curve).")
    if "fine-tuned" in (rec, advice.also) and not fine_tuned_available and s.n_examples >= MIN_EXAMPLES:
        steps.append(f"Fine-tune on the examples: `sandbox check-data {d}` then `sandbox finetune start {d}`.")
    if rec == "rag" and advice.also == "fine-tuned":
        steps.append(f"RAG for the facts; fine-tune the generator on the format once you have {MIN_EXAMPLES}–"
                     f"{GOOD_EXAMPLES}+ examples ({s.n_examples} now).")
    if rec == "few-shot" and advice.also == "fine-tuned":
        steps.append(f"Few-shot now; fine-tune when the examples reach {MIN_EXAMPLES} ({s.n_examples} now).")
    elif rec == "fine-tuned" and s.n_examples < GOOD_EXAMPLES and curve is None:
        steps.append(f"Collect more input→output examples: {s.n_examples} now, {GOOD_EXAMPLES}+ for a reliable fine-tune.")
    if rec == "rag":
        steps.append(f"Index the documents (`sandbox index {d}`) and check retrieval hit@k in `sandbox eval {d}`.")
    if rec == "few-shot":
        steps.append("Tighten the system prompt and pick diverse examples; re-run the eval after each change.")
    if summary is None or not summary.measured:
        steps.append(f"Measure it: `sandbox eval {d}` runs the held-out questions through all three pipelines.")
    if not judged:
        steps.append("Judge side-by-side answers in the app (Compare tab) so human preferences count as evidence.")
    if advice.confidence < 0.65:
        steps.append("The evidence is mixed: compare the top two approaches on more questions before committing.")
    return steps


# plain-text explanation (CLI, Markdown report) -----------------------------------------------------------
QUESTIONS = {RETRIEVAL: "1. Retrieve or not?", FINE_TUNING: "2. Fine-tune or prompt?",
             MEASURED: "3. Does measured evidence overrule?"}


def headline(advice: Advice) -> str:
    also = f" (also {advice.also})" if advice.also else ""
    basis = "" if advice.measured else ", from data signals only"
    return f"{advice.dataset}: {advice.recommendation}{also} (confidence {advice.confidence:.2f}{basis})"


def reason_line(r: Reason) -> str:
    mark = f"→ {r.favours} (+{r.weight:g})" if r.favours else "· info"
    return f"[{r.rule}] {mark}: {r.evidence}"


def explain(advice: Advice) -> list[tuple[int, str]]:
    """(indent, text) lines: each question with its answer and the reasons that voted on it, then why not."""
    lines = []
    for decision, question in QUESTIONS.items():
        voted = [r for r in advice.reasons if r.decision == decision]
        if not voted:
            continue
        answer = advice.answers.get(decision, "no: no pipeline is measurably ahead, the data signals decide")
        lines += [(0, f"{question} {answer}")] + [(1, reason_line(r)) for r in voted]
    lines += [(0, "Why not:")] + [(1, f"{p}: {text}") for p, text in advice.why_not.items()]
    return lines


# entry point --------------------------------------------------------------------------------------------
def judgment_rates(judgments, kind: str) -> dict[str, tuple[float, float, float, int]]:
    """pipeline -> (win rate, Wilson 95% low, high, n) over judgments of one kind (human / llm)."""
    picked = [j for j in judgments if j.judge_kind == kind]
    return {r["pipeline"]: (r["win_rate"], r["ci_low"], r["ci_high"], r["judgments"])
            for r in win_rates(picked) if r["pipeline"] in PIPELINES}


def _training_tokens(workspace, dataset: str) -> float | None:
    """Billed training tokens (tokens x epochs, the base model's tokenizer) from the fine-tuning preflight."""
    try:
        report, _, _ = run_preflight(workspace, dataset, epochs=TRAIN_EPOCHS)
    except SandboxError:  # a broken or missing examples file is check-data's to report; estimate instead
        return None
    return float(report.estimated_trained_tokens) if report.ok else None


def advise(workspace, dataset: str | None = None, store=None, session_id: str | None = None,
           summary: EvalSummary | None = None) -> Advice:
    """The verdict for one dataset from its data signals, evals and judgments (whatever exists);
    with ``session_id`` the human evidence is that judging session's votes (all judges, same answers).
    ``summary``: the dataset's eval summary when the caller already loaded it."""
    dataset = workspace.dataset_dir(dataset).name
    store = store or open_store(workspace)
    signals = compute_signals(workspace, dataset)
    summary = summary or load_summary(workspace, dataset, store=store)
    judgments = store.judgments(dataset)
    training_tokens = _training_tokens(workspace, dataset)
    cost = estimate_cost(workspace, signals, summary if summary.measured else None, training_tokens)
    tuned = bool(workspace.settings.model_for("fine-tuned", dataset))
    human = store.judgments(dataset, session_id) if session_id else judgments
    curve = load_curve(workspace, dataset, store=store)
    return decide(signals, cost=cost, summary=summary, human_rates=judgment_rates(human, "human"),
                  llm_rates=judgment_rates(judgments, "llm"), fine_tuned_available=tuned,
                  curve=curve.readout if curve else None)
