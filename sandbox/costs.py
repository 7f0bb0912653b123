"""What each approach costs: per-call inference and one-time training, and the break-even volume.

The framework's cost rule ("long system prompts × many calls → a smaller fine-tuned model with a
short prompt"; cost = one-time training + per-call inference) needs numbers; this module makes them
from measured tokens when an eval exists, else from the dataset's estimated prompt sizes.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandbox import PIPELINES
from sandbox.signals import DataSignals

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
