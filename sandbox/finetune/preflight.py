"""Fine-tuning data preflight: is this file ready to train on, and what will it cost?

Every line is checked against OpenAI's chat fine-tuning format (codes: invalid_json,
data_type, missing_messages_list, message_missing_key, message_unrecognized_key,
unrecognized_role, missing_content, example_missing_assistant_message, too_many_tokens,
duplicate, empty_file). On top: token statistics with the base model's tokenizer, the
framework's size thresholds, near duplicates, leakage of held-out questions into the
training data, the deterministic split, and the estimated training cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sandbox.datafile import Problem
from sandbox.examples import Example, parse_examples
from sandbox.finetune.split import split_examples
from sandbox.finetune.tokens import count
from sandbox.localmodel.tokenizer import load_tokenizer
from sandbox.questions import load_questions
from sandbox.text import plain, words as word_tokens

DEFAULT_EPOCHS = 3
MAX_TOKENS = 2048  # longer examples are refused, never silently truncated
TOO_FEW, MINIMUM, RECOMMENDED = 50, 100, 500
NEAR_DUP_JACCARD = 0.9
LEAK_JACCARD = 0.8


class Warning_(BaseModel):
    line: int | None = None
    code: str
    message: str


class TokenStats(BaseModel):
    min: int = 0
    mean: float = 0.0
    p95: int = 0
    max: int = 0
    total: int = 0
    assistant_total: int = Field(0, description="tokens the loss is computed on")


class Report(BaseModel):
    """The `check-data --json` shape."""

    ok: bool
    file: str
    n_examples: int
    n_train: int = 0
    n_validation: int = 0
    errors: list[Problem] = []
    warnings: list[Warning_] = []
    token_stats: TokenStats = Field(default_factory=TokenStats)
    epochs: int = DEFAULT_EPOCHS
    price_train_per_mtok: float = 0.0
    estimated_training_cost_usd: float = 0.0
    estimated_trained_tokens: int = 0
    split_file: str = ""


def preflight(path: Path, *, questions: Path | None = None, tokenizer=None, epochs: int = DEFAULT_EPOCHS,
              price_train_per_mtok: float = 0.0, max_tokens: int = MAX_TOKENS,
              split_path: Path | None = None) -> Report:
    """Check one examples file. ``tokenizer`` None loads the base model's (tokenizer only)."""
    examples, errors = parse_examples(path)
    report = Report(ok=False, file=str(path), n_examples=len(examples), errors=list(errors), epochs=epochs,
                    price_train_per_mtok=price_train_per_mtok)
    if not examples:
        return report
    if tokenizer is None:
        tokenizer = load_tokenizer()
    report.token_stats, too_long = _token_stats(tokenizer, examples, max_tokens)
    report.errors += too_long
    report.errors.sort(key=lambda p: (p.line or 0))
    report.warnings = _size_warnings(len(examples)) + _near_duplicates(examples)
    if questions and questions.is_file():
        report.warnings += _leakage(examples, questions)
    split = split_examples(examples, split_path)
    report.n_train, report.n_validation, report.split_file = len(split.train), len(split.validation), split.path
    report.estimated_trained_tokens = report.token_stats.total * epochs
    report.estimated_training_cost_usd = round(report.estimated_trained_tokens * price_train_per_mtok / 1e6, 4)
    report.ok = not report.errors
    return report


def _token_stats(tokenizer, examples: list[Example], max_tokens: int) -> tuple[TokenStats, list[Problem]]:
    counts = [count(tokenizer, e.messages) for e in examples]
    totals = sorted(c[0] for c in counts)
    errors = [Problem(line=e.line, code="too_many_tokens",
                      message=f"{n} tokens, over the limit of {max_tokens}; shorten or split this example.")
              for e, (n, _) in zip(examples, counts) if n > max_tokens]
    p95 = totals[min(len(totals) - 1, int(round(0.95 * (len(totals) - 1))))]
    stats = TokenStats(min=totals[0], mean=round(sum(totals) / len(totals), 1), p95=p95, max=totals[-1],
                       total=sum(totals), assistant_total=sum(c[1] for c in counts))
    return stats, errors


def _size_warnings(n: int) -> list[Warning_]:
    if n < TOO_FEW:
        return [Warning_(code="too_few_examples", message=f"{n} examples: too few to fine-tune reliably; collect at least {TOO_FEW}-{MINIMUM} good pairs ({RECOMMENDED}+ recommended), or use few-shot prompting.")]
    if n < MINIMUM:
        return [Warning_(code="minimum_examples", message=f"{n} examples: the bare minimum ({TOO_FEW}-{MINIMUM}); {RECOMMENDED}+ are recommended.")]
    if n < RECOMMENDED:
        return [Warning_(code="below_recommended", message=f"{n} examples: enough to start; {RECOMMENDED}+ are recommended for stable results.")]
    return []


def _words(text: str) -> frozenset[str]:
    return frozenset(word_tokens(text))


def _jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _near_duplicates(examples: list[Example], limit: int = 3000) -> list[Warning_]:
    """Examples whose input and output are the same up to case, punctuation and spacing,
    or whose inputs share >= 90% of their words with the same output (pairwise up to ``limit``)."""
    out, first = [], {}
    for e in examples:
        key = (plain(e.input), plain(e.output))
        if key in first:
            out.append(Warning_(line=e.line, code="near_duplicate", message=f"same as line {first[key]} up to case/punctuation."))
        else:
            first[key] = e.line
    flagged = {w.line for w in out}
    if len(examples) <= limit:
        words = [_words(e.input) for e in examples]
        for j in range(len(examples)):
            if examples[j].line in flagged:
                continue
            for i in range(j):
                if examples[i].output == examples[j].output and _jaccard(words[i], words[j]) >= NEAR_DUP_JACCARD:
                    out.append(Warning_(line=examples[j].line, code="near_duplicate",
                                        message=f"nearly the same input as line {examples[i].line}, same output."))
                    break
    return out


def _leakage(examples: list[Example], questions_path: Path) -> list[Warning_]:
    """Held-out questions that also appear (nearly) as training inputs inflate every score."""
    try:
        questions = load_questions(questions_path)
    except Exception as exc:  # a broken questions file is reported, not fatal to preflight
        return [Warning_(code="questions_unreadable", message=str(exc))]
    by_text = {plain(e.input): e.line for e in examples}
    words = [(_words(e.input), e.line) for e in examples]
    out = []
    for q in questions:
        qn, qw = plain(q.question), _words(q.question)
        line = by_text.get(qn)
        if line is None:
            line = next((ln for w, ln in words if _jaccard(w, qw) >= LEAK_JACCARD), None)
        if line is not None:
            out.append(Warning_(line=line, code="leakage",
                                message=f"the input is (nearly) held-out question {q.id!r} from {questions_path.name}; remove it from training or from the questions."))
    return out


def render(report: Report) -> str:
    """Human-readable report for the terminal."""
    s = report.token_stats
    lines = [f"{report.file}: {report.n_examples} valid examples ({report.n_train} train / {report.n_validation} validation)"]
    if report.n_examples:
        lines.append(f"tokens per example: min {s.min}, mean {s.mean}, p95 {s.p95}, max {s.max}; total {s.total} ({s.assistant_total} trained assistant tokens)")
        lines.append(f"estimated training: {report.estimated_trained_tokens} tokens ({report.epochs} epochs) = ${report.estimated_training_cost_usd:.4f} at ${report.price_train_per_mtok}/1M tokens (estimate)")
    for e in report.errors:
        lines.append(f"ERROR line {e.line if e.line is not None else '-'} [{e.code}] {e.message}")
    for w in report.warnings:
        lines.append(f"warning{' line ' + str(w.line) if w.line is not None else ''} [{w.code}] {w.message}")
    lines.append("OK: ready to fine-tune." if report.ok else f"NOT READY: {len(report.errors)} error(s); fix them and run check-data again.")
    return "\n".join(lines)


def as_json(report: Report) -> dict[str, Any]:
    return report.model_dump()
