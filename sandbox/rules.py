"""The decision framework's rules, each voting only on the question it is about.

The advisor answers two questions in order (DESIGN.md, "The decision framework"):

1. ``retrieval`` — retrieve or not? Only the knowledge rule speaks: "do not fine-tune to add
   knowledge (use RAG)". Nothing else (example count, format, cost) can move this answer.
2. ``fine-tuning`` — fine-tune or prompt? Format, domain language and cost vote for fine-tuning
   ("fine-tune for consistent formatting, domain-specific language, cost") and simple
   instructions for prompting ("do not fine-tune for simple instruction following"). Data volume
   never votes: it scales the fine-tuning votes ("50–100 pairs at least, 500+ recommended").

Measured evidence (``measured``) is read in ``sandbox.advisor``: it overrules these data rules
only when it is measurably ahead (sandbox.separation). Every weight and threshold below is named after its rule.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandbox.signals import DataSignals

RETRIEVAL, FINE_TUNING, MEASURED = "retrieval", "fine-tuning", "measured"

# knowledge — "do not fine-tune to add knowledge (use RAG)": the share of questions whose answers need
# facts found only in the documents. At RETRIEVE_AT or more, retrieve.
RETRIEVE_AT = 0.3
# Below RETRIEVE_AT but at SOME_KNOWLEDGE or more, a minority needs the documents: retrieval is not the
# default, except when there are no examples — then prompting has nothing to show the model and the
# documents are the only material to ground answers on.
SOME_KNOWLEDGE = 0.1
# format — "fine-tune for consistent formatting (strict JSON, fixed report layouts)": at least
# FORMAT_CONSISTENT of the outputs share one structure of FORMAT_FIELDS or more fields.
FORMAT_CONSISTENT, FORMAT_FIELDS = 0.8, 3
STRICT_FORMAT_WEIGHT = 3.0  # × consistency: the strongest fine-tuning case the framework names
SIMPLE_FORMAT_WEIGHT = 1.0  # a short consistent format a prompt with examples can ask for
# domain language — "fine-tune for domain-specific language (jargon the base model mangles)": at least
# DOMAIN_HIGH of the example words are rare in general English; weight grows with the share, capped.
DOMAIN_HIGH, DOMAIN_SLOPE, DOMAIN_MAX_WEIGHT = 0.12, 10.0, 2.0
# simple instructions — "do not fine-tune for simple instruction following (a good system prompt plus a
# few examples)": no strict format and no jargon.
SIMPLE_INSTRUCTIONS_WEIGHT = 2.0
# cost — "long system prompts × many calls → a smaller fine-tuned model with a short prompt": fine-tuning
# when the monthly calls reach the break-even volume, else the cheaper prompting approach.
COST_PAYS_BACK_WEIGHT, COST_PROMPT_CHEAPER_WEIGHT = 1.0, 0.5
# data volume — "50–100 good pairs at least, 500+ recommended": a factor on the fine-tuning votes.
# Below MIN_EXAMPLES fine-tuning cannot be recommended yet (×0); at 500+ the case is strengthened.
MIN_EXAMPLES, GOOD_EXAMPLES, RECOMMENDED_EXAMPLES = 50, 100, 500
VOLUME_FACTOR = {0: 0.0, MIN_EXAMPLES: 0.75, GOOD_EXAMPLES: 1.0, RECOMMENDED_EXAMPLES: 1.25}


class Reason(BaseModel):
    rule: str
    decision: str = Field(description="the question this rule answers: retrieval, fine-tuning or measured")
    evidence: str
    favours: str | None = Field(None, description="pipeline this rule supports; None = informative only")
    weight: float = 0.0


def _knowledge(evidence: str, favours: str | None = None, weight: float = 0.0) -> Reason:
    return Reason(rule="knowledge", decision=RETRIEVAL, evidence=evidence, favours=favours, weight=weight)


def _tuning(rule: str, evidence: str, favours: str | None = None, weight: float = 0.0) -> Reason:
    return Reason(rule=rule, decision=FINE_TUNING, evidence=evidence, favours=favours, weight=round(weight, 2))


# retrieve or not ---------------------------------------------------------------------------------------
def retrieve_threshold(s: DataSignals) -> float:
    return SOME_KNOWLEDGE if s.n_examples == 0 else RETRIEVE_AT


def should_retrieve(s: DataSignals) -> bool:
    if not s.n_docs:
        return False
    return s.knowledge_need is None or s.knowledge_need >= retrieve_threshold(s)


def rule_knowledge(s: DataSignals) -> Reason:
    if not s.n_docs:
        return _knowledge("no documents in docs/: nothing to retrieve")
    if s.knowledge_need is None:
        return _knowledge("documents but neither examples nor reference answers: the documents are the only "
                          "material to ground answers on; retrieve", "rag", 1.0)
    pct = f"{s.knowledge_need:.0%} of {s.knowledge_basis}"
    facts = f" (e.g. {', '.join(s.fact_terms[:4])})" if s.fact_terms else ""
    at = retrieve_threshold(s)
    if s.knowledge_need >= at:
        why = "" if at == RETRIEVE_AT else ", and no examples to prompt with"
        return _knowledge(f"{pct} need facts found only in the documents{facts} (≥ {at:.0%}{why}): fine-tuning "
                          "does not reliably add knowledge; retrieve it", "rag", round(s.knowledge_need, 2))
    if s.knowledge_need >= SOME_KNOWLEDGE:
        return _knowledge(f"{pct} need facts from the documents{facts} (< {at:.0%}): a minority; "
                          "retrieval is not the default, measure it")
    return _knowledge(f"only {pct} need facts from the documents (< {SOME_KNOWLEDGE:.0%}): nothing to retrieve")


# fine-tune or prompt --------------------------------------------------------------------------------------
def strict_format(s: DataSignals) -> bool:
    return s.n_examples > 0 and s.format_consistency >= FORMAT_CONSISTENT and s.format_fields >= FORMAT_FIELDS


def rule_format(s: DataSignals) -> list[Reason]:
    if not s.n_examples:
        return []
    shape = f"{s.format_consistency:.0%} of outputs share one structure with {s.format_fields:.0f} fields"
    shape += f" ({s.json_share:.0%} valid JSON)" if s.json_share else ""
    if strict_format(s):
        return [_tuning("format", f"{shape}: a strict format is what fine-tuning teaches most reliably",
                        "fine-tuned", STRICT_FORMAT_WEIGHT * s.format_consistency)]
    if s.format_consistency >= FORMAT_CONSISTENT and s.format_fields == 0:
        return [_tuning("format", f"outputs are free text ({s.format_consistency:.0%} without labelled fields "
                                  "or JSON): no fixed structure to teach")]
    if s.format_consistency >= FORMAT_CONSISTENT:
        return [_tuning("format", f"{shape} (< {FORMAT_FIELDS}): a simple format a prompt with examples can ask for",
                        "few-shot", SIMPLE_FORMAT_WEIGHT)]
    return [_tuning("format", f"outputs have no dominant structure ({shape})")]


def jargon(s: DataSignals) -> bool:
    return s.n_examples > 0 and s.domain_share >= DOMAIN_HIGH


def rule_domain(s: DataSignals) -> list[Reason]:
    if not s.n_examples:
        return []
    terms = f" (e.g. {', '.join(s.domain_terms[:5])})" if s.domain_terms else ""
    ev = f"{s.domain_share:.0%} of example words are rare in general English{terms}"
    if jargon(s):
        return [_tuning("domain-language", f"{ev} (≥ {DOMAIN_HIGH:.0%}): jargon a base model mangles",
                        "fine-tuned", min(DOMAIN_MAX_WEIGHT, DOMAIN_SLOPE * s.domain_share))]
    return [_tuning("domain-language", f"{ev} (< {DOMAIN_HIGH:.0%})")]


def rule_simple(s: DataSignals) -> list[Reason]:
    if not s.n_examples or strict_format(s) or jargon(s):
        return []
    return [_tuning("simple-instructions", f"no strict format (fields {s.format_fields:.0f}) and little jargon "
                                           f"({s.domain_share:.0%}): a good prompt with examples suffices",
                    "few-shot", SIMPLE_INSTRUCTIONS_WEIGHT)]


def rule_cost(cost, n_examples: int) -> list[Reason]:
    if cost is None or n_examples == 0:  # nothing to train on: no training cost to weigh
        return []
    alt = cost.cheapest_prompting
    be = cost.break_even.get(alt)
    label = "measured" if not cost.tokens_estimated else "estimated"
    per = (f"{alt} ${cost.per_call[alt] * 1000:.4f} vs fine-tuned ${cost.per_call['fine-tuned'] * 1000:.4f} "
           f"per 1,000 calls ({label} tokens, {cost.price_source} prices)")
    if be is None:
        return [_tuning("cost", f"fine-tuning never pays back: {per}", alt, COST_PROMPT_CHEAPER_WEIGHT)]
    volume = f"{cost.monthly_calls:,} calls/month"
    training = f"training ${cost.training_cost:.2f}; {per}"
    if cost.monthly_calls >= be:
        return [_tuning("cost", f"{volume} ≥ break-even {be:,.0f} ({training})", "fine-tuned", COST_PAYS_BACK_WEIGHT)]
    return [_tuning("cost", f"{volume} < break-even {be:,.0f} ({training})", alt, COST_PROMPT_CHEAPER_WEIGHT)]


def volume_factor(n: int) -> float:
    return max(f for floor, f in VOLUME_FACTOR.items() if n >= floor)


def rule_volume(s: DataSignals) -> Reason:
    n, factor = s.n_examples, volume_factor(s.n_examples)
    scale = f"fine-tuning votes ×{factor:g}"
    if n < MIN_EXAMPLES:
        text = f"{n} examples < {MIN_EXAMPLES}, the minimum to fine-tune on: {scale} (fine-tuning waits for more data)"
    elif n < GOOD_EXAMPLES:
        text = f"{n} examples: the {MIN_EXAMPLES} minimum is met, {GOOD_EXAMPLES}+ is better: {scale}"
    elif n < RECOMMENDED_EXAMPLES:
        text = f"{n} examples: enough to fine-tune ({RECOMMENDED_EXAMPLES}+ recommended): {scale}"
    else:
        text = f"{n} examples ≥ {RECOMMENDED_EXAMPLES} recommended: {scale}"
    return _tuning("data-volume", text + "; it votes for no pipeline")


# data volume, measured — a learning curve (``sandbox curve``) replaces the fixed thresholds: the factor is
# CURVE_ENOUGH when a smaller size already reaches the best score (the examples at hand are enough), else 1
# (still rising: more examples help, by the gain per doubling; flat: more do not move the metric).
CURVE_ENOUGH = 1.25


def curve_volume_factor(readout) -> float:
    return CURVE_ENOUGH if readout.shape == "levels off" else 1.0


def rule_curve_volume(readout) -> Reason:
    """Data volume from the dataset's learning curve (a ``sandbox.curve_readout.Readout``)."""
    scale = f"fine-tuning votes ×{curve_volume_factor(readout):g}"
    span = f"{readout.smallest_size}→{readout.largest_size} examples"
    where = f"learning curve ({readout.metric}, {span}): "
    if readout.shape == "rising" and readout.gain:
        g = readout.gain
        text = (f"still rising: doubling to {g.next_size} examples is expected to add {g.mean:+.2f} "
                f"[{g.low:+.2f}, {g.high:+.2f}]; more examples pay")
    elif readout.shape == "levels off":
        text = (f"levels off: {readout.enough_size} examples already reach the best {readout.best:.2f} "
                f"({readout.best_size}) within its 95% interval; the examples at hand are enough")
    else:
        text = (f"flat: {readout.smallest_size} examples already score within the best's interval "
                f"({readout.best:.2f}); more examples do not move it")
    return _tuning("data-volume", f"{where}{text}: {scale}; it votes for no pipeline")


class TuningAnswer(BaseModel):
    """The answer to "fine-tune or prompt?": the summed votes and what they decide."""

    votes_for: float = Field(description="fine-tuning votes before the data-volume factor")
    factor: float
    votes_against: float = Field(description="prompting votes")
    for_rules: list[str] = Field(default_factory=list)
    against_rules: list[str] = Field(default_factory=list)

    @property
    def scaled(self) -> float:
        return round(self.votes_for * self.factor, 2)

    @property
    def fine_tune(self) -> bool:
        return self.scaled > self.votes_against  # a tie stays with prompting: cheaper and simpler

    @property
    def deferred(self) -> bool:
        """The case for fine-tuning wins on its merits but waits for enough examples."""
        return not self.fine_tune and self.votes_for > self.votes_against and self.factor < 1

    @property
    def confidence(self) -> float:
        top = max(self.scaled, self.votes_against)
        return 0.5 + 0.5 * abs(self.scaled - self.votes_against) / top if top else 0.5


def answer_tuning(reasons: list[Reason], n_examples: int, factor: float | None = None) -> TuningAnswer:
    """``factor``: the data-volume factor when a learning curve measured it (default: from the example count)."""
    pro = [r for r in reasons if r.decision == FINE_TUNING and r.favours == "fine-tuned"]
    con = [r for r in reasons if r.decision == FINE_TUNING and r.favours and r.favours != "fine-tuned"]
    factor = volume_factor(n_examples) if factor is None else factor
    return TuningAnswer(votes_for=round(sum(r.weight for r in pro), 2), factor=factor,
                        votes_against=round(sum(r.weight for r in con), 2),
                        for_rules=[r.rule for r in pro], against_rules=[r.rule for r in con])


def data_reasons(s: DataSignals, cost=None, curve=None) -> list[Reason]:
    """Every data rule, retrieval first, then fine-tune-or-prompt; ``curve`` (a learning curve's read-out)
    answers the data-volume question instead of the example count."""
    volume = rule_curve_volume(curve) if curve is not None else rule_volume(s)
    return ([rule_knowledge(s)] + rule_format(s) + rule_domain(s) + rule_simple(s)
            + rule_cost(cost, s.n_examples) + [volume])
