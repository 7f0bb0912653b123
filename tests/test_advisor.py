"""The advisor's rules on synthetic signals: each rule can flip the verdict; no rule reads names."""

from __future__ import annotations

import json

import pytest

from sandbox.advisor import CostEstimate, decide, advise, estimate_cost
from sandbox.config import load_workspace
from sandbox.evaluate import EvalSummary, Interval, PipelineSummary
from sandbox.signals import DataSignals

BASE = dict(dataset="anything", n_examples=200, n_questions=20, n_docs=5, json_share=0.0, format_consistency=0.3,
            format_fields=0, domain_share=0.03, knowledge_need=0.05, knowledge_basis="questions")


def sig(**kw) -> DataSignals:
    return DataSignals(**{**BASE, **kw})


def cost(monthly=100_000, be=50_000.0) -> CostEstimate:
    return CostEstimate(monthly_calls=monthly, tokens={p: (100, 20) for p in ("few-shot", "rag", "fine-tuned")},
                        prices={p: (0.15, 0.6) for p in ("few-shot", "rag", "fine-tuned")},
                        per_call={"few-shot": 2e-5, "rag": 5e-5, "fine-tuned": 1e-5}, training_tokens=1e5,
                        training_cost=0.3, break_even={"few-shot": be, "rag": be / 4}, cheapest_prompting="few-shot",
                        tokens_estimated=True, price_source="test")


def verdict(s, **kw):
    return decide(s, **kw).recommendation


def rules(advice):
    return {r.rule: r for r in advice.reasons}


def test_plain_data_is_few_shot():
    advice = decide(sig())
    assert advice.recommendation == "few-shot"
    assert rules(advice)["simple-instructions"].favours == "few-shot"
    assert {"rule", "evidence", "favours"} <= set(advice.contract()["reasons"][0])


def test_knowledge_rule_flips_to_rag():
    assert verdict(sig(knowledge_need=0.05)) == "few-shot"
    advice = decide(sig(knowledge_need=0.7))
    assert advice.recommendation == "rag"
    assert "70%" in rules(advice)["knowledge"].evidence


def test_format_rule_flips_to_fine_tuned():
    assert verdict(sig(format_consistency=0.5, format_fields=6, json_share=1.0)) == "few-shot"
    advice = decide(sig(format_consistency=0.97, format_fields=6, json_share=1.0))
    assert advice.recommendation == "fine-tuned" and rules(advice)["format"].favours == "fine-tuned"


def test_simple_format_stays_few_shot():
    advice = decide(sig(format_consistency=1.0, format_fields=1))
    assert advice.recommendation == "few-shot" and rules(advice)["format"].favours == "few-shot"


def test_domain_language_flips_to_fine_tuned():
    assert verdict(sig(domain_share=0.05)) == "few-shot"
    assert verdict(sig(domain_share=0.25)) == "fine-tuned"


def test_data_volume_flips_fine_tuned_back_to_few_shot():
    strict = dict(format_consistency=1.0, format_fields=8, json_share=1.0, domain_share=0.2)
    assert verdict(sig(n_examples=300, **strict)) == "fine-tuned"
    advice = decide(sig(n_examples=30, **strict))
    assert advice.recommendation == "few-shot"
    assert "30 examples < 50" in rules(advice)["data-volume"].evidence and advice.also == "fine-tuned"
    assert any("Collect more" in s for s in decide(sig(n_examples=60, **strict)).next_steps)


def test_cost_rule_flips_a_close_call():
    close = sig(domain_share=0.13)  # jargon (1.3 for fine-tuned) vs nothing else
    with_domain = decide(close, cost=cost(monthly=10_000, be=50_000.0))
    assert with_domain.recommendation == "fine-tuned"
    tipped = sig(domain_share=0.12)  # 1.2 fine-tuned vs 0.5 few-shot below break-even
    assert verdict(tipped, cost=cost(monthly=100_000, be=50_000.0)) == "fine-tuned"
    # the same close call with a cost that never pays back, plus simple-format evidence, goes to few-shot
    assert verdict(sig(domain_share=0.12, format_consistency=1.0, format_fields=1), cost=cost(monthly=1_000, be=50_000.0)) == "few-shot"
    assert verdict(sig(domain_share=0.12, format_consistency=1.0, format_fields=1), cost=cost(monthly=1_000_000, be=50_000.0)) == "fine-tuned"


def _summary(means: dict[str, tuple[float, float, float]]) -> EvalSummary:
    pipes = {p: PipelineSummary(pipeline=p, eval_id="x", n=30,
                                metrics={"similarity": Interval(mean=m, low=lo, high=hi, n=30)})
             for p, (m, lo, hi) in means.items()}
    return EvalSummary(dataset="anything", questions=30, pipelines=pipes, quality_metric="similarity")


def test_measured_quality_flips_the_data_verdict():
    summary = _summary({"few-shot": (0.4, 0.35, 0.45), "rag": (0.8, 0.75, 0.85), "fine-tuned": (0.5, 0.45, 0.55)})
    advice = decide(sig(), summary=summary)
    assert advice.recommendation == "rag" and advice.measured
    assert "clearly better" in rules(advice)["measured-quality"].evidence
    overlapping = _summary({"few-shot": (0.5, 0.3, 0.7), "rag": (0.55, 0.35, 0.75), "fine-tuned": (0.4, 0.2, 0.6)})
    held = decide(sig(), summary=overlapping)
    assert held.recommendation == "few-shot" and rules(held)["measured-quality"].favours is None
    assert "does not overrule" in rules(held)["measured-quality"].evidence


def test_a_paired_lead_overrules_where_the_intervals_overlap():
    # the same 40 questions: rag scores 0.1 above few-shot on each, on questions of very mixed difficulty,
    # so the pipelines' own intervals overlap while the paired difference is clearly above 0
    base = {f"q{i}": (i % 5) / 5 for i in range(40)}
    summary = _summary({"few-shot": (0.40, 0.30, 0.50), "rag": (0.50, 0.40, 0.60)})
    summary.pipelines["few-shot"].per_question = {q: {"similarity": v} for q, v in base.items()}
    summary.pipelines["rag"].per_question = {q: {"similarity": v + 0.1} for q, v in base.items()}
    measured = rules(decide(sig(), summary=summary))["measured-quality"]
    assert measured.favours == "rag" and "paired over 40 questions" in measured.evidence
    summary.pipelines["rag"].per_question = {q: {"similarity": v + (0.1 if i % 2 else -0.1)}
                                             for i, (q, v) in enumerate(base.items())}
    assert rules(decide(sig(), summary=summary))["measured-quality"].favours is None  # no steady lead: held


def test_fine_tuned_measurements_ignored_without_a_fine_tuned_model():
    summary = _summary({"few-shot": (0.4, 0.35, 0.45), "rag": (0.42, 0.36, 0.47), "fine-tuned": (0.9, 0.85, 0.95)})
    assert decide(sig(), summary=summary, fine_tuned_available=True).recommendation == "fine-tuned"
    assert decide(sig(), summary=summary, fine_tuned_available=False).recommendation != "fine-tuned"


def test_human_judgments_flip_the_verdict():
    rates = {"few-shot": (0.2, 0.1, 0.3, 40), "rag": (0.3, 0.2, 0.4, 40), "fine-tuned": (0.7, 0.6, 0.8, 40)}
    advice = decide(sig(), human_rates=rates)
    assert advice.recommendation == "fine-tuned" and "40 human judgments" in rules(advice)["human-judgments"].evidence
    few = {p: (r[0], r[1], r[2], 3) for p, r in rates.items()}  # too few judgments: ignored
    assert decide(sig(), human_rates=few).recommendation == "few-shot"


def test_confidence_is_capped_without_measurements():
    advice = decide(sig(knowledge_need=0.9))
    assert 0.5 <= advice.confidence <= 0.75


def _write(root, name, examples, questions, docs):
    folder = root / "corpora" / name
    (folder / "docs").mkdir(parents=True)
    (folder / "examples.jsonl").write_text("".join(json.dumps({"input": i, "output": o}) + "\n" for i, o in examples))
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    for fname, text in docs.items():
        (folder / "docs" / fname).write_text(text)


@pytest.mark.parametrize("case", ["facts", "structured", "simple"])
def test_unseen_small_datasets(tmp_path, case):
    """Three datasets invented here, named neutrally so nothing can key on a name."""
    if case == "facts":
        items = [(f"Warden{i}", f"Velmora station {i} opened in {1900 + i} under warden Oskarsen{i}.") for i in range(20)]
        docs = {"stations.md": "\n".join(f"Velmora station {i} opened in {1900 + i}; its first warden was Oskarsen{i}." for i in range(20))}
        examples = [(f"When did station {i} open?", f"In {1900 + i}.") for i in range(20, 30)]
        questions = [{"id": str(i), "question": f"Who was the first warden of station {i}?", "reference": f"Oskarsen{i}, appointed {1900 + i}."} for i in range(12)]
        want = "rag"
    elif case == "structured":
        examples = [(f"PT {i} BP {120 + i}/{80 + i} HR {60 + i} SPO2 9{i % 10} NAD, R/V 2/52",
                     json.dumps({"patient": i, "systolic": 120 + i, "diastolic": 80 + i, "pulse": 60 + i, "review_weeks": 2})) for i in range(150)]
        docs, questions = {}, [{"id": "1", "question": "PT 7 BP 130/85 HR 70 NAD", "reference": json.dumps({"patient": 7})}]
        want = "fine-tuned"
    else:
        moods = ["happy", "sad", "neutral"]
        examples = [(f"I feel {w} about the weather today number {i}", f"{moods[i % 3]}") for i, w in enumerate(["great", "bad", "ok"] * 8)]
        docs = {"guide.md": "Label each message by its mood."}
        questions = [{"id": str(i), "question": f"message {i}: it is fine", "reference": "neutral"} for i in range(5)]
        want = "few-shot"
    name = {"facts": "alpha", "structured": "beta", "simple": "gamma"}[case]
    _write(tmp_path, name, examples, questions, docs)
    ws = load_workspace(tmp_path)
    advice = advise(ws, name)
    assert advice.recommendation == want, [r.model_dump() for r in advice.reasons]
    assert advice.next_steps and advice.reasons


def test_estimate_cost_uses_reference_prices_for_free_endpoints(tmp_path):
    (tmp_path / "corpora").mkdir()
    ws = load_workspace(tmp_path)
    s = sig(n_examples=100, system_tokens=10, input_tokens=30, output_tokens=40, few_shot_prompt_tokens=400,
            rag_prompt_tokens=900, fine_tuned_prompt_tokens=60)
    c = estimate_cost(ws, s)
    assert c.price_source.startswith("reference") and c.tokens_estimated
    assert c.per_call["few-shot"] == pytest.approx((400 * 0.15 + 40 * 0.6) / 1e6)
    assert c.training_cost == pytest.approx(100 * (10 + 30 + 40 + 24) * 3 * 3.0 / 1e6)
    assert c.break_even["few-shot"] == pytest.approx(c.training_cost / (c.per_call["few-shot"] - c.per_call["fine-tuned"]))
    assert c.monthly(0)["fine-tuned"] == pytest.approx(c.training_cost)


def test_training_cost_counts_real_tokens_from_preflight(tmp_path):
    """With a valid examples file the break-even uses the base tokenizer's count (tokens x epochs)."""
    from sandbox.finetune.launch import run_preflight

    _write(tmp_path, "delta", [(f"order {i} for table {i % 7}", json.dumps({"order": i})) for i in range(60)],
           [{"id": "1", "question": "order 99 for table 2"}], {})
    ws = load_workspace(tmp_path)
    billed = run_preflight(ws, "delta", epochs=3)[0].estimated_trained_tokens
    advice = advise(ws, "delta")
    cost = next(r for r in advice.reasons if r.rule == "cost")
    assert billed > 0 and f"${billed * 3.0 / 1e6:.2f}" in cost.evidence


def test_broken_examples_are_a_clear_error(tmp_path):
    from sandbox.errors import DataError

    _write(tmp_path, "echo", [("q", "a")] * 3, [{"id": "1", "question": "q?"}], {})
    (tmp_path / "corpora" / "echo" / "examples.jsonl").write_text('{"messages": "not a list"}\n')
    with pytest.raises(DataError, match=r"examples.jsonl:1"):
        advise(load_workspace(tmp_path), "echo")


def _metric_summary(metric_means: dict[str, dict[str, tuple[float, float, float]]], primary: str = "") -> EvalSummary:
    pipes = {p: PipelineSummary(pipeline=p, eval_id="x", n=30,
                                metrics={m: Interval(mean=v[0], low=v[1], high=v[2], n=30) for m, v in ms.items()})
             for p, ms in metric_means.items()}
    return EvalSummary(dataset="anything", questions=30, pipelines=pipes, quality_metric=primary)


def test_measured_quality_uses_the_primary_metric_else_falls_back():
    from sandbox.advisor import measured_metric

    # facts say rag clearly, similarity says nothing separates
    means = {p: {"fact_recall": f, "similarity": (0.6, 0.5, 0.7)} for p, f in
             (("few-shot", (0.2, 0.1, 0.3)), ("rag", (0.8, 0.7, 0.9)), ("fine-tuned", (0.25, 0.15, 0.35)))}
    assert measured_metric(_metric_summary(means), list(means)) == "fact_recall"
    assert decide(sig(), summary=_metric_summary(means)).recommendation == "rag"
    by_similarity = decide(sig(), summary=_metric_summary(means, primary="similarity"))
    assert by_similarity.recommendation == "few-shot" and "similarity" in rules(by_similarity)["measured-quality"].evidence
    assert measured_metric(_metric_summary(means, primary="key_fact"), list(means)) == "fact_recall"  # not measured
    primary = _metric_summary(means, primary="fact_recall")
    primary.quality_reason = "free-text references"
    evidence = rules(decide(sig(), summary=primary))["measured-quality"].evidence
    assert evidence.startswith("fact_recall (primary metric: free-text references;") and "overrules" in evidence


def test_people_overrule_before_the_eval_and_the_reason_says_so():
    eval_rag = _summary({"few-shot": (0.4, 0.35, 0.45), "rag": (0.8, 0.75, 0.85), "fine-tuned": (0.5, 0.45, 0.55)})
    humans = {"few-shot": (0.1, 0.05, 0.2, 40), "rag": (0.2, 0.1, 0.3, 40), "fine-tuned": (0.7, 0.6, 0.8, 40)}
    advice = decide(sig(), summary=eval_rag, human_rates=humans)
    assert advice.recommendation == "fine-tuned" and advice.confidence == 0.8
    assert "overrules the data signals" in rules(advice)["human-judgments"].evidence
    assert advice.why_not["rag"].startswith("human-judgments")
    agreeing = decide(sig(knowledge_need=0.7), summary=eval_rag)
    assert agreeing.recommendation == "rag" and agreeing.confidence == 0.9


def test_issue_13_case_many_document_questions_few_examples_is_rag():
    advice = decide(sig(n_examples=12, knowledge_need=0.47, format_consistency=1.0, format_fields=1))
    assert advice.recommendation == "rag" and advice.also is None
    assert [r.rule for r in advice.reasons if r.decision == "retrieval"] == ["knowledge"]
    assert advice.why_not["fine-tuned"].startswith("knowledge: 47% of the answers need document facts")


def test_knowledge_and_strict_format_is_rag_also_fine_tuned():
    advice = decide(sig(knowledge_need=0.6, format_consistency=1.0, format_fields=5, json_share=1.0))
    assert (advice.recommendation, advice.also) == ("rag", "fine-tuned")
    assert any("fine-tune the generator on the format" in s for s in advice.next_steps)
