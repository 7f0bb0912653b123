"""Batch evaluation: every held-out question through the pipelines, scored and stored.

Resumable by construction: an *eval id* is a hash of the dataset and one pipeline's
configuration (endpoint URL, model, k, max_tokens, temperature, prompt file). Each
(question, pipeline) score is a row in ``eval_scores``; a rerun with the same configuration
skips the rows already answered (failed answers are retried), and changing one pipeline's config re-runs
only that pipeline.
Runs are stored in ``runs`` (origin ``eval``) next to their scores.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from sandbox import PIPELINES, compare
from sandbox import metrics as M
from sandbox.embeddings import encode_queries, get_embedder
from sandbox.endpoints import ChatEndpoint, resolve_base_url
from sandbox.errors import ConfigError, DataError, SandboxError
from sandbox.prompts import load_prompt
from sandbox.questions import load_questions
from sandbox.pipelines import pipeline_class
from sandbox.records import Judgment, RunRecord
from sandbox.store import Store, open_store

Progress = Callable[[int, int], None]  # (done, total)
BOOTSTRAP_SEED = 20240601
# Fallback when the primary metric (``metrics.primary_metric``) was not measured: first one present.
QUALITY_METRICS = ("json_values", "fact_recall", "similarity", "token_f1")


class Interval(BaseModel):
    mean: float
    low: float
    high: float
    n: int


class PipelineSummary(BaseModel):
    pipeline: str
    eval_id: str
    model: str = ""
    n: int = 0
    errors: int = 0
    metrics: dict[str, Interval] = Field(default_factory=dict)
    # question id -> that answer's metrics: what a paired comparison of two pipelines needs (sandbox.separation)
    per_question: dict[str, dict[str, Any]] = Field(default_factory=dict, exclude=True)
    load_s: float = Field(0.0, description="one-time loading (models, index, local server) these answers waited "
                                           "for, summed; never part of latency_s")

    def value(self, name: str) -> float | None:
        return self.metrics[name].mean if name in self.metrics else None

    def scores(self, name: str) -> dict[str, float | None]:
        return {q: m.get(name) for q, m in self.per_question.items()}


class EvalSummary(BaseModel):
    dataset: str
    questions: int
    pipelines: dict[str, PipelineSummary]
    quality_metric: str = Field("", description="the primary metric pipelines are compared on (see metrics.primary_metric)")
    quality_reason: str = Field("", description="why that metric, in one sentence")
    seconds: float | None = None
    ran: int = 0
    skipped: int = 0
    judged: int = 0
    examples: list[dict[str, Any]] = Field(default_factory=list, description="a few questions with every answer")

    @property
    def measured(self) -> bool:
        return any(s.n for s in self.pipelines.values())


# eval ids ----------------------------------------------------------------------------------
def pipeline_config(workspace, dataset: str, pipeline: str) -> dict[str, Any]:
    settings = workspace.settings
    cfg = settings.pipelines[pipeline]
    endpoint = settings.endpoint_for(pipeline)
    prompt = workspace.prompts_dir / f"{pipeline.replace('-', '_')}.yaml"
    return {
        "dataset": dataset, "pipeline": pipeline, "base_url": endpoint.base_url,
        "model": settings.model_for(pipeline, dataset), "k": cfg.k, "max_tokens": cfg.max_tokens,
        "temperature": cfg.temperature,
        **{key: getattr(cfg, key) for key in pipeline_class(pipeline).settings_keys},
        "prompt_sha": hashlib.sha256(prompt.read_bytes()).hexdigest()[:16] if prompt.is_file() else "",
    }


def eval_id(config: dict[str, Any]) -> str:
    return "ev_" + hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


# scoring -------------------------------------------------------------------------------------
def score(record: RunRecord, reference: str | None, source: str | None, similarity: float | None = None) -> dict[str, Any]:
    """Every metric that applies to one answer (see ``sandbox.metrics``); None = not applicable.

    ``similarity``: cosine of the answer's and the reference's embeddings (``Scorer`` computes
    them in batches); an answer without one (empty, failed) scores 0."""
    answer = record.response
    out: dict[str, Any] = {"error": record.error is not None, "latency_s": record.latency_s, "load_s": record.load_s,
                           "prompt_tokens": record.prompt_tokens, "completion_tokens": record.completion_tokens,
                           "cost_usd": record.cost_usd}
    contexts = [c.text for c in record.contexts]
    if reference:
        out["exact_match"] = M.exact_match(answer, reference)
        out["token_f1"] = M.token_f1(answer, reference)
        out["similarity"] = similarity if similarity is not None else 0.0
        if (agreement := M.json_agreement(answer, reference)) is not None:
            out.update(agreement)
        else:
            out.update(fact_scores(answer, reference, record.user_input))
    if record.pipeline == "rag" or contexts:
        support = M.context_support(answer, contexts)
        out["context_support"] = support
        out["supported"] = None if support is None else float(support >= M.SUPPORT_THRESHOLD)
        out["cites"] = M.cites(answer, [c.source for c in record.contexts])
        out["hit_at_k"] = M.hit_at_k(source, [c.source for c in record.contexts])
    return out


def fact_scores(answer: str, reference: str, question: str) -> dict[str, float | None]:
    """The fact metrics of a free-text reference (``metrics.fact_recall``, ``metrics.key_fact``)."""
    return {"fact_recall": M.fact_recall(answer, reference), "key_fact": M.key_fact(answer, reference, question)}


class Scorer:
    """Scores answers in batches, embedding as little as possible: each reference once per eval
    (all in one batch, up front) and the answers that finished together in one batch. Only answer
    and reference are embedded: embedding every retrieved context too would cost more than the
    rest of the eval; groundedness uses token overlap with the contexts instead."""

    def __init__(self, embedder, references: Sequence[str | None]):
        self.embedder = embedder
        unique = list(dict.fromkeys(r for r in references if r))
        self.references = dict(zip(unique, embedder.encode(unique))) if embedder is not None and unique else {}

    def __call__(self, batch: Sequence[tuple[Any, RunRecord]]) -> list[dict[str, Any]]:
        """The metrics of each (question, record)."""
        wanted = [i for i, (q, r) in enumerate(batch) if r.response and q.reference in self.references]
        vectors = self.embedder.encode([batch[i][1].response for i in wanted]) if wanted else []
        similarity = {i: M.cosine(v, self.references[batch[i][0].reference]) for i, v in zip(wanted, vectors)}
        return [score(r, q.reference, q.source, similarity.get(i)) for i, (q, r) in enumerate(batch)]


ONE_TIME = ("load_s",)  # paid once per process, not per answer: summed (PipelineSummary.load_s), never averaged


def summarize_scores(rows: Sequence[dict[str, Any]]) -> dict[str, Interval]:
    """Mean and seeded bootstrap 95% interval of every per-answer metric over the answers that have it."""
    names = sorted({k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and k not in ONE_TIME})
    out = {}
    for name in names:
        values = [float(r[name]) for r in rows if r.get(name) is not None]
        if values:
            mean, low, high = M.bootstrap_ci(values, seed=BOOTSTRAP_SEED)
            out[name] = Interval(mean=mean, low=low, high=high, n=len(values))
    return out


# running ---------------------------------------------------------------------------------------
def _load_questions(workspace, dataset: str):
    path = workspace.dataset_dir(dataset) / "questions.jsonl"
    if not path.is_file():
        raise DataError(path, "no held-out questions to evaluate on.",
                        'Add questions.jsonl: one {"id", "question", "reference", "source"?} per line.')
    return load_questions(path)


async def _answer(workspace, dataset: str, question, pipeline: str, stream_compare, limiter) -> RunRecord:
    record = None
    async for event in stream_compare(workspace, question.question, dataset=dataset, pipelines=[pipeline],
                                      reference=question.reference, question_id=question.id, origin="eval",
                                      limiter=limiter):
        if hasattr(event, "record"):
            record = event.record
    if record is None:  # a compare that yields no result is a bug upstream; score it as a failure
        record = RunRecord(pipeline=pipeline, user_input=question.question, error="no result")
    return record


def run_eval(workspace, dataset: str, *, pipelines: Sequence[str] = PIPELINES, limit: int | None = None,
             store: Store | None = None, progress: Progress | None = None, embedder=None,
             stream_compare=None, judge: bool = True) -> EvalSummary:
    """Evaluate, skipping (question, pipeline) pairs already scored with the same configuration.

    ``embedder`` scores similarity (default: the workspace's); ``stream_compare`` (default
    ``sandbox.compare.stream_compare``) must accept its keyword arguments, ``limiter`` included."""
    for name in pipelines:
        if name not in PIPELINES:
            raise ConfigError(f"Unknown pipeline {name!r}.", f"Use some of: {', '.join(PIPELINES)}.")
    dataset = workspace.dataset_dir(dataset).name
    store = store or open_store(workspace)
    questions = _load_questions(workspace, dataset)[: limit or None]
    if embedder is None:
        embedder = get_embedder(workspace.settings)
    default_compare = stream_compare is None
    if default_compare:
        stream_compare = compare.stream_compare
    started = time.perf_counter()
    ids, todo = {}, []
    for name in pipelines:
        config = pipeline_config(workspace, dataset, name)
        ids[name] = eval_id(config)
        store.start_eval(ids[name], dataset, config)
        done = store.eval_scores(ids[name])
        # a failed answer (timeout, endpoint down) is retried on resume; its score row is replaced
        todo += [(q, name) for q in questions if q.id not in done or done[q.id]["metrics"].get("error")]
    total = len(questions) * len(pipelines)
    skipped = total - len(todo)
    if default_compare and any(p in ("few-shot", "rag") for _, p in todo):
        _embed_questions(workspace, [q.question for q, _ in todo])
    scorer = Scorer(embedder, [q.reference for q, _ in todo])
    asyncio.run(_run_all(workspace, dataset, todo, ids, store, scorer, stream_compare,
                         workspace.settings.eval.concurrency, progress, skipped, total))
    judged = 0
    if judge and workspace.settings.eval.judge_endpoint and len(pipelines) > 1:
        judged = judge_eval(workspace, dataset, questions, ids, store)
    for eid in ids.values():
        store.set_eval_status(eid, "done")
    summary = load_summary(workspace, dataset, pipelines=pipelines, store=store, limit_to={q.id for q in questions})
    summary.seconds, summary.ran, summary.skipped, summary.judged = time.perf_counter() - started, len(todo), skipped, judged
    return summary


def _embed_questions(workspace, questions: list[str], most: int = 1024) -> None:
    """Embed the questions in one batch into the pipelines' query cache, where few-shot selection
    and RAG retrieval find them: one forward pass for many questions instead of one or two per
    question (``most`` stays well inside the cache; later questions are embedded as they come)."""
    try:
        encode_queries(compare.resources_for(workspace).embedder(), list(dict.fromkeys(questions))[:most])
    except SandboxError:
        pass  # e.g. no embedding model: the pipelines that need one report it on each of their answers


async def _run_all(workspace, dataset, todo, ids, store, scorer, stream_compare, concurrency, progress,
                   done, total) -> None:
    """Answer everything with at most ``concurrency`` endpoint calls in flight; score and store
    the answers in batches as they finish."""
    from concurrent.futures import ThreadPoolExecutor

    limit = max(1, concurrency)
    # The limit applies to endpoint calls only (``limiter``); prompts of the next answers are built
    # meanwhile, a bounded ``window`` ahead, so no call waits for CPU work that could have been done.
    window = asyncio.Semaphore(2 * limit + 2)
    limiter = asyncio.Semaphore(limit)
    # Every answer in the window may need a thread (prompt building, retrieval); the default pool
    # (cores + 4) would cap concurrency below the setting on a small machine.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2 * limit + 4))
    finished: asyncio.Queue = asyncio.Queue()
    if progress:
        progress(done, total)

    async def one(question, pipeline: str) -> None:
        async with window:
            record = await _answer(workspace, dataset, question, pipeline, stream_compare, limiter)
        record.origin, record.dataset, record.question_id = "eval", dataset, question.id
        finished.put_nowait((question, record))

    async def save_finished() -> None:
        """Everything finished since the last batch: one embedding call, one SQLite transaction
        (one commit per answer would make fsync, not the endpoints, the bottleneck)."""
        count, last = done, False
        while not last:
            batch = [await finished.get()]
            while not finished.empty():
                batch.append(finished.get_nowait())
            last = batch[-1] is None  # the end marker comes after every answer
            batch = [item for item in batch if item is not None]
            if batch:
                await asyncio.to_thread(_score_and_save, store, scorer, ids, batch)
                count += len(batch)
                if progress:
                    progress(count, total)

    saver = asyncio.create_task(save_finished())
    try:
        await asyncio.gather(*(one(q, p) for q, p in todo))
    finally:  # interrupted or not, what finished is kept
        finished.put_nowait(None)
        await saver


def _score_and_save(store: Store, scorer: Scorer, ids: dict[str, str], batch) -> None:
    values = scorer(batch)
    store.add_scored_runs((ids[r.pipeline], r, v) for (_, r), v in zip(batch, values))


# LLM-as-judge ----------------------------------------------------------------------------------------
def _judge_order(eids: dict[str, str], question_id: str, names: list[str]) -> list[str]:
    """A random order per question (counters position bias), seeded so a rerun shows the same order."""
    order = sorted(names)
    random.Random(f"{sorted(eids.values())}:{question_id}").shuffle(order)
    return order


def parse_verdict(text: str, labels: list[str]) -> tuple[str | None, dict[str, int]]:
    """(best label or None for a tie, label -> score 1..5) from the judge's reply."""
    match = re.search(r"\{.*\}", text, re.S)
    data = M.parse_json(match.group(0)) if match else None
    if isinstance(data, dict):
        best = str(data.get("best", "")).strip().strip("[]").upper()
        raw = data.get("scores") if isinstance(data.get("scores"), dict) else {}
        ratings = {str(k).strip("[]").upper(): int(v) for k, v in raw.items()
                   if isinstance(v, (int, float)) and 1 <= v <= 5}
        return (best if best in labels else None), {k: v for k, v in ratings.items() if k in labels}
    found = re.search(r"best\W+([A-Z])\b", text, re.I)
    return (found.group(1).upper() if found and found.group(1).upper() in labels else None), {}


def judge_eval(workspace, dataset: str, questions, ids: dict[str, str], store: Store) -> int:
    """Ask the judge endpoint to compare every question's answers once; returns how many were judged."""
    return asyncio.run(_judge_all(workspace, dataset, questions, ids, store))


async def _judge_all(workspace, dataset, questions, ids, store) -> int:
    settings = workspace.settings
    name = settings.eval.judge_endpoint
    if name not in settings.endpoints:
        raise ConfigError(f"[eval] judge_endpoint = {name!r} is not a defined endpoint.",
                          f"Add [endpoints.{name}] to sandbox.toml or clear judge_endpoint.")
    config = settings.endpoints[name]
    endpoint = ChatEndpoint(name, config, await asyncio.to_thread(resolve_base_url, workspace, config))
    prompt = load_prompt(workspace.prompts_dir, "judge")
    rows = {p: store.eval_scores(eid) for p, eid in ids.items()}
    gate = asyncio.Semaphore(max(1, settings.eval.concurrency))

    async def one(question) -> int:
        have = {p: r[question.id] for p, r in rows.items() if question.id in r}
        if len(have) < 2 or any("judge_score" in r["metrics"] for r in have.values()):
            return 0  # nothing to compare, or judged already (resume)
        runs = {p: store.get_run(r["run_id"]) for p, r in have.items()}
        order = _judge_order(ids, question.id, list(runs))
        labels = [chr(ord("A") + i) for i in range(len(order))]
        answers = "\n\n".join(f"[{lab}]\n{runs[p].response or '(no answer)'}" for lab, p in zip(labels, order))
        messages = prompt.render({"question": question.question, "answers": answers, "labels": ", ".join(labels),
                                  "reference": question.reference or "(none)"})
        async with gate:
            try:
                reply = await endpoint.complete(messages, model=config.model, max_tokens=96, temperature=0.0)
            except SandboxError:
                return 0  # a judge outage leaves the question unjudged; a rerun retries it
        best, ratings = parse_verdict(reply.text, labels)
        by_pipeline = dict(zip(labels, order))
        await asyncio.to_thread(_save_judgment, store, dataset, question, runs, order, by_pipeline, best, ratings,
                                f"llm:{config.model}", ids, have)
        return 1

    return sum(await asyncio.gather(*(one(q) for q in questions)))


def _save_judgment(store, dataset, question, runs, order, by_label, best, ratings, judge, ids, have) -> None:
    best_pipeline = by_label.get(best) if best else None
    judgment = Judgment(comparison_id=f"eval:{question.id}:{'-'.join(sorted(ids.values()))}"[:200], dataset=dataset,
                        question_id=question.id, user_input=question.question,
                        run_ids={p: r.id for p, r in runs.items()}, shown_order=order, blind=True,
                        verdict="best" if best_pipeline else "tie", best=best_pipeline,
                        ratings={by_label[k]: v for k, v in ratings.items()}, judge=judge, judge_kind="llm")
    store.add_judgment(judgment)
    rescored = []
    for p, row in have.items():
        values = dict(row["metrics"])
        values["judge_best"] = float(best_pipeline == p)
        rating = judgment.ratings.get(p)
        values["judge_score"] = (rating - 1) / 4 if rating else None
        rescored.append((ids[p], question.id, p, row["run_id"], values))
    store.set_eval_scores(rescored)


# reading back ---------------------------------------------------------------------------------------
def load_summary(workspace, dataset: str, *, pipelines: Sequence[str] = PIPELINES, store: Store | None = None,
                 limit_to: set[str] | None = None, n_examples: int = 3) -> EvalSummary:
    """Aggregates of the evals matching the current configuration (empty when none ran yet)."""
    dataset = workspace.dataset_dir(dataset).name
    store = store or open_store(workspace)
    references = _references(workspace, dataset)
    out, answers, questions = {}, {}, set()
    for name in pipelines:
        config = pipeline_config(workspace, dataset, name)
        eid = eval_id(config)
        rows = {q: r for q, r in store.eval_scores(eid).items() if limit_to is None or q in limit_to}
        _backfill_facts(store, eid, name, rows, references)
        questions |= set(rows)
        metrics = [r["metrics"] for r in rows.values()]
        out[name] = PipelineSummary(pipeline=name, eval_id=eid, model=config["model"], n=len(rows),
                                    errors=sum(bool(m.get("error")) for m in metrics),
                                    metrics=summarize_scores(metrics),
                                    per_question={q: r["metrics"] for q, r in rows.items()},
                                    load_s=round(sum(m.get("load_s") or 0.0 for m in metrics), 3))
        answers[name] = rows
    quality, why = M.primary_metric(list(references.values()))
    measured = [m for m in QUALITY_METRICS if any(m in s.metrics for s in out.values())]
    if measured and not any(quality in s.metrics for s in out.values()):  # e.g. references without a reference-based metric
        quality, why = measured[0], f"{quality or 'no primary metric'} was not measured; {measured[0]} was"
    summary = EvalSummary(dataset=dataset, questions=len(questions), pipelines=out, quality_metric=quality,
                          quality_reason=why)
    summary.examples = _examples(store, answers, n_examples)
    return summary


def _references(workspace, dataset: str) -> dict[str, str | None]:
    """question id -> reference ({} when the questions file is missing or broken: nothing to choose from)."""
    try:
        return {q.id: q.reference for q in _load_questions(workspace, dataset)}
    except SandboxError:
        return {}


def _backfill_facts(store: Store, eid: str, pipeline: str, rows: dict[str, dict[str, Any]],
                    references: dict[str, str | None]) -> None:
    """Score the fact metrics of answers stored before they existed, once, from the stored runs
    (re-answering every question would cost minutes per dataset for two string comparisons)."""
    stale = [q for q, r in rows.items() if r["run_id"] and "token_f1" in r["metrics"]
             and "fact_recall" not in r["metrics"] and references.get(q) and M.is_free_text(references[q])]
    updates = []
    for qid in stale:
        run = store.get_run(rows[qid]["run_id"])
        if run is None:
            continue
        rows[qid]["metrics"].update(fact_scores(run.response, references[qid], run.user_input))
        updates.append((eid, qid, pipeline, rows[qid]["run_id"], rows[qid]["metrics"]))
    if updates:
        store.set_eval_scores(updates)


def _examples(store: Store, answers: dict[str, dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """A few questions answered by every pipeline, for the report's side-by-side table."""
    answers = {name: rows for name, rows in answers.items() if rows}  # pipelines not evaluated don't count
    shared = sorted(set.intersection(*(set(a) for a in answers.values()))) if answers else []
    rng = random.Random(BOOTSTRAP_SEED)
    picked = sorted(rng.sample(shared, min(n, len(shared))))
    out = []
    for qid in picked:
        row: dict[str, Any] = {"question_id": qid, "answers": {}}
        for name, rows in answers.items():
            run = store.get_run(rows[qid]["run_id"]) if rows[qid]["run_id"] else None
            if run is None:
                continue
            row["question"], row["reference"] = run.user_input, run.reference
            row["answers"][name] = run.error and f"[error] {run.error}" or run.response
        out.append(row)
    return out
