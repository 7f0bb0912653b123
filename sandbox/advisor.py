"""The decision framework, applied to this dataset's evidence.

Each rule reads one kind of evidence, names the number behind it, and adds a weight to the
pipeline it favours. The recommendation is the pipeline with the highest score; the confidence
is how far ahead it is. Rules (weights in parentheses, thresholds as constants below):

- ``knowledge`` — don't fine-tune to add knowledge: answers that need facts from the documents
  favour RAG (up to 4 × knowledge_need).
- ``format`` — fine-tune for consistent formatting: a strict multi-field output structure favours
  fine-tuning (3 × consistency); a simple one a prompt can describe favours few-shot (1).
- ``domain-language`` — fine-tune for jargon: many words rare in general English favour
  fine-tuning (up to 2).
- ``simple-instructions`` — don't fine-tune for simple instruction following: no strict format,
  no jargon and no document knowledge favour few-shot (2).
- ``data-volume`` — 50–100 examples at least, 500+ recommended: below 50 favours few-shot (2) and
  scales every fine-tuning vote by 0.25; 50–99 by 0.75; 500+ adds 0.5 for fine-tuning.
- ``cost`` — long prompts × many calls: if ``advisor.monthly_calls`` exceeds the break-even volume,
  fine-tuning (1); otherwise the cheaper prompting approach (0.5).
- ``measured-quality`` — eval results: the best pipeline on the primary metric gets 3 when its 95%
  interval clears the runner-up's, else 1.
- ``human-judgments`` / ``llm-judge`` — win rates with Wilson intervals: 3 (or 1) for humans,
  half that for an LLM judge.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sandbox import PIPELINES
from sandbox.errors import SandboxError
from sandbox.signals import DataSignals

MIN_EXAMPLES, GOOD_EXAMPLES, RECOMMENDED_EXAMPLES = 50, 100, 500
KNOWLEDGE_HIGH, KNOWLEDGE_LOW = 0.3, 0.1
FORMAT_CONSISTENT, FORMAT_FIELDS = 0.8, 3
DOMAIN_HIGH = 0.12
MIN_JUDGMENTS = 5
NO_DATA_FACTOR = {0: 0.25, MIN_EXAMPLES: 0.75, GOOD_EXAMPLES: 1.0}


class Reason(BaseModel):
    rule: str
    evidence: str
    favours: str | None = Field(None, description="pipeline this rule supports; None = informative only")
    weight: float = 0.0


class Advice(BaseModel):
    dataset: str
    recommendation: str
    confidence: float
    reasons: list[Reason]
    next_steps: list[str]
    scores: dict[str, float] = Field(default_factory=dict)
    measured: bool = False
    signals: DataSignals | None = None
    cost: "CostEstimate | None" = None

    def contract(self) -> dict[str, Any]:
        """The ``advise --json`` shape (plus scores, signals and cost for reports)."""
        data = self.model_dump(mode="json")
        return data


# data rules ---------------------------------------------------------------------------------------
def rule_knowledge(s: DataSignals) -> list[Reason]:
    if s.knowledge_need is None:
        return [] if s.n_docs else [Reason(rule="knowledge", evidence="no documents in docs/, so RAG has nothing to retrieve")]
    pct = f"{s.knowledge_need:.0%} of {s.knowledge_basis}"
    facts = f" (e.g. {', '.join(s.fact_terms[:4])})" if s.fact_terms else ""
    if s.knowledge_need >= KNOWLEDGE_HIGH:
        return [Reason(rule="knowledge", favours="rag", weight=round(4 * s.knowledge_need, 2),
                       evidence=f"{pct} need facts found only in the documents{facts} (≥ {KNOWLEDGE_HIGH:.0%}): "
                                "fine-tuning does not reliably add knowledge; retrieve it")]
    if s.knowledge_need < KNOWLEDGE_LOW:
        return [Reason(rule="knowledge", evidence=f"only {pct} need facts from the documents (< {KNOWLEDGE_LOW:.0%})")]
    return [Reason(rule="knowledge", favours="rag", weight=1.0,
                   evidence=f"{pct} need facts from the documents{facts} ({KNOWLEDGE_LOW:.0%}–{KNOWLEDGE_HIGH:.0%})")]


def _strict_format(s: DataSignals) -> bool:
    return s.n_examples > 0 and s.format_consistency >= FORMAT_CONSISTENT and s.format_fields >= FORMAT_FIELDS


def rule_format(s: DataSignals) -> list[Reason]:
    if not s.n_examples:
        return []
    shape = f"{s.format_consistency:.0%} of outputs share one structure with {s.format_fields:.0f} fields"
    shape += f" ({s.json_share:.0%} valid JSON)" if s.json_share else ""
    if _strict_format(s):
        return [Reason(rule="format", favours="fine-tuned", weight=round(3 * s.format_consistency, 2),
                       evidence=f"{shape}: a strict format is what fine-tuning teaches most reliably")]
    if s.format_consistency >= FORMAT_CONSISTENT and s.format_fields == 0:
        return [Reason(rule="format", evidence=f"outputs are free text ({s.format_consistency:.0%} without labelled fields or JSON): "
                                               "no fixed structure to teach")]
    if s.format_consistency >= FORMAT_CONSISTENT:
        return [Reason(rule="format", favours="few-shot", weight=1.0,
                       evidence=f"{shape} (< {FORMAT_FIELDS}): a simple format a prompt with examples can ask for")]
    return [Reason(rule="format", evidence=f"outputs have no dominant structure ({shape})")]


def rule_domain(s: DataSignals) -> list[Reason]:
    if not s.n_examples:
        return []
    terms = f" (e.g. {', '.join(s.domain_terms[:5])})" if s.domain_terms else ""
    ev = f"{s.domain_share:.0%} of example words are rare in general English{terms}"
    if s.domain_share >= DOMAIN_HIGH:
        return [Reason(rule="domain-language", favours="fine-tuned", weight=round(min(2.0, 10 * s.domain_share), 2),
                       evidence=f"{ev} (≥ {DOMAIN_HIGH:.0%}): jargon a base model mangles")]
    return [Reason(rule="domain-language", evidence=f"{ev} (< {DOMAIN_HIGH:.0%})")]


def rule_simple(s: DataSignals) -> list[Reason]:
    if not s.n_examples or _strict_format(s) or s.domain_share >= DOMAIN_HIGH or (s.knowledge_need or 0) >= KNOWLEDGE_HIGH:
        return []
    return [Reason(rule="simple-instructions", favours="few-shot", weight=2.0,
                   evidence=f"no strict format (fields {s.format_fields:.0f}), little jargon ({s.domain_share:.0%}) and "
                            f"no document knowledge ({(s.knowledge_need or 0):.0%}): a good prompt with examples suffices")]


def rule_volume(s: DataSignals) -> list[Reason]:
    n = s.n_examples
    if n < MIN_EXAMPLES:
        return [Reason(rule="data-volume", favours="few-shot", weight=2.0,
                       evidence=f"{n} examples < {MIN_EXAMPLES}, the minimum to fine-tune on: fine-tuning votes count ×0.25")]
    if n < GOOD_EXAMPLES:
        return [Reason(rule="data-volume", evidence=f"{n} examples: the {MIN_EXAMPLES} minimum is met, {GOOD_EXAMPLES}+ is better (fine-tuning votes ×0.75)")]
    if n >= RECOMMENDED_EXAMPLES:
        return [Reason(rule="data-volume", favours="fine-tuned", weight=0.5, evidence=f"{n} examples ≥ {RECOMMENDED_EXAMPLES} recommended for fine-tuning")]
    return [Reason(rule="data-volume", evidence=f"{n} examples: enough to fine-tune ({RECOMMENDED_EXAMPLES}+ recommended)")]


def volume_factor(n: int) -> float:
    return max(f for floor, f in NO_DATA_FACTOR.items() if n >= floor)


def rule_cost(cost, n_examples: int) -> list[Reason]:
    if cost is None or n_examples == 0:  # nothing to train on: no training cost to weigh
        return []
    alt = cost.cheapest_prompting
    be = cost.break_even.get(alt)
    label = "measured" if not cost.tokens_estimated else "estimated"
    per = f"{alt} ${cost.per_call[alt] * 1000:.4f} vs fine-tuned ${cost.per_call['fine-tuned'] * 1000:.4f} per 1,000 calls ({label} tokens, {cost.price_source} prices)"
    if be is None:
        return [Reason(rule="cost", favours=alt, weight=0.5,
                       evidence=f"fine-tuning never pays back: {per}")]
    monthly = cost.monthly_calls
    if monthly >= be:
        return [Reason(rule="cost", favours="fine-tuned", weight=1.0,
                       evidence=f"{monthly:,} calls/month ≥ break-even {be:,.0f} (training ${cost.training_cost:.2f}; {per})")]
    return [Reason(rule="cost", favours=alt, weight=0.5,
                   evidence=f"{monthly:,} calls/month < break-even {be:,.0f} (training ${cost.training_cost:.2f}; {per})")]


# measured rules --------------------------------------------------------------------------------
def rule_measured(summary, candidates: list[str]) -> list[Reason]:
    if summary is None or not summary.measured or not summary.quality_metric:
        return []
    metric = summary.quality_metric
    rows = [(p, summary.pipelines[p].metrics[metric]) for p in candidates
            if p in summary.pipelines and metric in summary.pipelines[p].metrics]
    if len(rows) < 2:
        return []
    rows.sort(key=lambda r: r[1].mean, reverse=True)
    (best, b), (second, s) = rows[0], rows[1]
    ev = f"{metric}: {best} {b.mean:.2f} [{b.low:.2f}, {b.high:.2f}] vs {second} {s.mean:.2f} [{s.low:.2f}, {s.high:.2f}] (n={b.n}, 95% bootstrap)"
    if b.low > s.high:
        return [Reason(rule="measured-quality", favours=best, weight=3.0, evidence=f"{ev}: clearly better")]
    if b.mean > s.mean:
        return [Reason(rule="measured-quality", favours=best, weight=1.0, evidence=f"{ev}: ahead, intervals overlap")]
    return [Reason(rule="measured-quality", evidence=f"{ev}: a tie")]


def rule_judgments(rates: dict[str, tuple[float, float, float, int]], kind: str) -> list[Reason]:
    """``rates``: pipeline -> (win rate, Wilson low, Wilson high, n judgments)."""
    rule = "human-judgments" if kind == "human" else "llm-judge"
    rows = sorted(((p, r) for p, r in rates.items() if r[3] >= MIN_JUDGMENTS), key=lambda x: x[1][0], reverse=True)
    if len(rows) < 2:
        return []
    (best, b), (second, s) = rows[0], rows[1]
    scale = 1.0 if kind == "human" else 0.5
    ev = (f"win rate {best} {b[0]:.0%} [{b[1]:.0%}, {b[2]:.0%}] vs {second} {s[0]:.0%} [{s[1]:.0%}, {s[2]:.0%}] "
          f"over {b[3]} {kind} judgments (95% Wilson)")
    if b[1] > s[2]:
        return [Reason(rule=rule, favours=best, weight=3.0 * scale, evidence=f"{ev}: clearly preferred")]
    if b[0] > s[0]:
        return [Reason(rule=rule, favours=best, weight=1.0 * scale, evidence=f"{ev}: ahead, intervals overlap")]
    return [Reason(rule=rule, evidence=f"{ev}: a tie")]


# verdict --------------------------------------------------------------------------------------------
def decide(signals: DataSignals, *, cost=None, summary=None, human_rates=None, llm_rates=None,
           fine_tuned_available: bool = True) -> Advice:
    """Apply every rule and pick the pipeline with the highest score."""
    data_reasons = (rule_knowledge(signals) + rule_format(signals) + rule_domain(signals) + rule_simple(signals)
                    + rule_volume(signals) + rule_cost(cost, signals.n_examples))
    # Without a fine-tuned model, the "fine-tuned" pipeline ran the base model: its measurements say
    # nothing about fine-tuning, so it is left out of measured comparisons.
    candidates = [p for p in PIPELINES if fine_tuned_available or p != "fine-tuned"]
    measured = rule_measured(summary, candidates)
    judged = rule_judgments(human_rates or {}, "human") + rule_judgments(llm_rates or {}, "llm")
    reasons = data_reasons + measured + judged
    factor = volume_factor(signals.n_examples)
    scores = {p: 0.0 for p in PIPELINES}
    for r in reasons:
        if r.favours:
            scores[r.favours] += r.weight * (factor if r.favours == "fine-tuned" and r in data_reasons else 1.0)
    ranked = sorted(PIPELINES, key=lambda p: (-scores[p], PIPELINES.index(p)))
    top, second = scores[ranked[0]], scores[ranked[1]]
    has_measured = bool(measured or judged)
    confidence = 0.5 + 0.5 * ((top - second) / top if top > 0 else 0.0)
    confidence = min(confidence, 0.95 if has_measured else 0.75)  # data signals alone never make us sure
    advice = Advice(dataset=signals.dataset, recommendation=ranked[0], confidence=round(confidence, 2),
                    reasons=reasons, next_steps=[], scores={p: round(v, 2) for p, v in scores.items()},
                    measured=has_measured, signals=signals, cost=cost)
    advice.next_steps = next_steps(advice, summary, fine_tuned_available, bool(human_rates))
    return advice


def next_steps(advice: Advice, summary, fine_tuned_available: bool, judged: bool) -> list[str]:
    s, d, rec = advice.signals, advice.dataset, advice.recommendation
    steps = []
    if rec == "fine-tuned" and not fine_tuned_available:
        steps.append(f"Fine-tune on the examples: `sandbox check-data {d}` then `sandbox finetune {d} --wait`.")
    if s.n_examples < MIN_EXAMPLES and rec != "few-shot" or (rec == "fine-tuned" and s.n_examples < GOOD_EXAMPLES):
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


# cost -------------------------------------------------------------------------------------------------
# Reference prices (USD per 1M tokens, OpenAI list prices for gpt-4o-mini and its fine-tunes), used
# when the configured endpoints are free (the local server has price 0) so a break-even still means
# something. Always labelled as reference prices in the evidence.
REFERENCE_PRICES = {"base": (0.15, 0.60), "fine-tuned": (0.30, 1.20), "train": 3.00}
REFERENCE_LABEL = "reference gpt-4o-mini list"
TRAIN_EPOCHS = 3  # the usual default for a few hundred examples; training tokens = data tokens × epochs
MESSAGE_OVERHEAD = 8  # chat-template tokens per message


class CostEstimate(BaseModel):
    monthly_calls: int
    tokens: dict[str, tuple[float, float]] = Field(description="pipeline -> (prompt, completion) tokens per call")
    prices: dict[str, tuple[float, float]] = Field(description="pipeline -> (input, output) USD per 1M tokens")
    per_call: dict[str, float]
    training_tokens: float
    training_cost: float
    break_even: dict[str, float | None] = Field(description="prompting pipeline -> monthly calls above which fine-tuned is cheaper")
    cheapest_prompting: str
    tokens_estimated: bool
    price_source: str

    def monthly(self, calls: float) -> dict[str, float]:
        """Cost of a month at ``calls`` calls; the fine-tune's training is paid within that month."""
        out = {p: calls * c for p, c in self.per_call.items()}
        out["fine-tuned"] += self.training_cost
        return out


def estimate_cost(workspace, signals: DataSignals, summary=None, training_tokens: float | None = None) -> CostEstimate:
    """Per-call and training cost from measured tokens (else estimated from the data), and the break-even
    monthly volume: training cost / per-call saving, i.e. the fine-tune pays for itself within one month.

    ``training_tokens``: billed training tokens from the fine-tuning preflight when known."""
    settings = workspace.settings
    measured = summary is not None and all(
        summary.pipelines.get(p) and "prompt_tokens" in summary.pipelines[p].metrics and not summary.pipelines[p].errors == summary.pipelines[p].n
        for p in PIPELINES)
    if measured:
        tokens = {p: (summary.pipelines[p].metrics["prompt_tokens"].mean, summary.pipelines[p].metrics["completion_tokens"].mean)
                  for p in PIPELINES}
    else:
        out = signals.output_tokens
        tokens = {"few-shot": (signals.few_shot_prompt_tokens, out), "rag": (signals.rag_prompt_tokens, out),
                  "fine-tuned": (signals.fine_tuned_prompt_tokens, out)}
    endpoints = {p: settings.endpoint_for(p) for p in PIPELINES}
    free = all(e.price_in_per_mtok == 0 and e.price_out_per_mtok == 0 for e in endpoints.values())
    if free:
        prices = {p: REFERENCE_PRICES["fine-tuned" if p == "fine-tuned" else "base"] for p in PIPELINES}
        train_price = REFERENCE_PRICES["train"]
    else:
        prices = {p: (e.price_in_per_mtok, e.price_out_per_mtok) for p, e in endpoints.items()}
        train_price = endpoints["fine-tuned"].price_train_per_mtok
    per_call = {p: (tokens[p][0] * prices[p][0] + tokens[p][1] * prices[p][1]) / 1e6 for p in PIPELINES}
    if training_tokens is None:
        per_example = signals.system_tokens + signals.input_tokens + signals.output_tokens + 3 * MESSAGE_OVERHEAD
        training_tokens = signals.n_examples * per_example * TRAIN_EPOCHS
    training = (training_tokens, training_tokens * train_price / 1e6)
    break_even = {}
    for p in ("few-shot", "rag"):
        saving = per_call[p] - per_call["fine-tuned"]
        break_even[p] = training[1] / saving if saving > 0 else None
    cheapest = min(("few-shot", "rag"), key=lambda p: per_call[p])
    return CostEstimate(monthly_calls=settings.advisor.monthly_calls, tokens=tokens, prices=prices, per_call=per_call,
                        training_tokens=training[0], training_cost=training[1], break_even=break_even,
                        cheapest_prompting=cheapest, tokens_estimated=not measured,
                        price_source=REFERENCE_LABEL if free else "endpoint")


Advice.model_rebuild()


# entry point --------------------------------------------------------------------------------------------
def judgment_rates(judgments, kind: str) -> dict[str, tuple[float, float, float, int]]:
    """pipeline -> (win rate, Wilson 95% low, high, n) over judgments of one kind (human / llm)."""
    from sandbox import analysis

    picked = [j for j in judgments if j.judge_kind == kind]
    return {r["pipeline"]: (r["win_rate"], r["ci_low"], r["ci_high"], r["judgments"])
            for r in analysis.win_rates(picked) if r["pipeline"] in PIPELINES}


def _training_tokens(workspace, dataset: str) -> float | None:
    """Billed training tokens (tokens x epochs, the base model's tokenizer) from the fine-tuning preflight."""
    from sandbox.finetune.launch import run_preflight

    try:
        report, _, _ = run_preflight(workspace, dataset, epochs=TRAIN_EPOCHS)
    except SandboxError:  # a broken or missing examples file is check-data's to report; estimate instead
        return None
    return float(report.estimated_trained_tokens) if report.ok else None


def advise(workspace, dataset: str | None = None, store=None) -> Advice:
    """The verdict for one dataset from its data signals, evals and judgments (whatever exists)."""
    from sandbox.evaluate import load_summary
    from sandbox.signals import compute_signals
    from sandbox.store import Store

    dataset = workspace.dataset_dir(dataset).name
    store = store or Store(workspace.db_path)
    signals = compute_signals(workspace, dataset)
    summary = load_summary(workspace, dataset, store=store)
    judgments = store.judgments(dataset)
    training_tokens = _training_tokens(workspace, dataset)
    cost = estimate_cost(workspace, signals, summary if summary.measured else None, training_tokens)
    tuned = bool(workspace.settings.model_for("fine-tuned", dataset))
    return decide(signals, cost=cost, summary=summary, human_rates=judgment_rates(judgments, "human"),
                  llm_rates=judgment_rates(judgments, "llm"), fine_tuned_available=tuned)
