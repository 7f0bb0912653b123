"""RAG context for small models: evidence sentences vs chunks vs few-shot, with the real local model.

    .venv/bin/python benchmarks/bench_rag_context.py --dataset knowledge -n 24
    .venv/bin/python benchmarks/bench_rag_context.py --corpus benchmarks/corpora/observatory -n 24

Per question, in turn (the local server decodes one request at a time, so calls run sequentially and
every variant sees the same load): few-shot; ``rag-today`` (the chunk context in the system turn with the
citation instruction, i.e. the RAG prompt before issue #11, kept below as a baseline); ``rag-chunks``
(today's prompt file, ``context = "chunks"``); ``rag-sentences`` (``context = "sentences"``). Prints fact
recall and key fact per variant, paired bootstrap 95% intervals of each RAG variant minus few-shot, and
prompt tokens and latency as ratios to ``rag-today`` measured in the same run. ``--corpus DIR`` copies a
dataset folder (docs/, examples.jsonl, questions.jsonl) into a temporary workspace and indexes it there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sandbox import metrics as M
from sandbox.config import load_workspace
from sandbox.endpoints import ChatEndpoint
from sandbox.questions import load_questions
from sandbox.pipelines import Resources, pipeline_class
from sandbox.prompts import format_contexts, load_prompt

TODAY_PROMPT = """messages:
  - system: |
      {instruction}

      Answer using only the numbered contexts below. Cite the contexts you use with their numbers in square brackets, like [1] or [2][3]. If the contexts do not contain the answer, say that you do not know.

      Contexts:
      {context}
  - user: "{question}"
"""
VARIANTS = ("few-shot", "rag-today", "rag-chunks", "rag-sentences")
SEED = 20240601


def prepare(ws, dataset: str, resources: Resources, variant: str, question: str, today_dir: Path):
    """(messages, model, evidence) of one variant."""
    if variant == "few-shot":
        prepared = pipeline_class("few-shot")(ws, dataset, resources).prepare(question)
        return prepared.messages, prepared.model, []
    rag = pipeline_class("rag")(ws, dataset, resources)
    ws.settings.pipelines["rag"].context = "sentences" if variant == "rag-sentences" else "chunks"
    if variant == "rag-today":
        contexts = rag.retrieve(question)
        variables = {"instruction": rag.instruction(), "context": format_contexts(contexts), "question": question}
        return load_prompt(today_dir, "rag").render(variables), rag.model(), []
    prepared = rag.prepare(question)
    return prepared.messages, prepared.model, prepared.evidence


async def run(ws, dataset: str, n: int, variants: list[str], save: str | None = None) -> dict:
    resources = Resources(ws)
    questions = [q for q in load_questions(ws.dataset_dir(dataset) / "questions.jsonl") if q.reference][:n]
    ws.settings.endpoint_for("rag").timeout_s = 600  # a shared box may queue a call behind others' work
    endpoint = ChatEndpoint.for_pipeline(ws, "rag")
    max_tokens = ws.settings.pipelines["rag"].max_tokens
    today_dir = Path(tempfile.mkdtemp())
    (today_dir / "rag.yaml").write_text(TODAY_PROMPT)
    warm, model, _ = prepare(ws, dataset, resources, "few-shot", questions[0].question, today_dir)
    await endpoint.complete(warm, model=model, max_tokens=8)  # model load is nobody's latency
    rows: dict[str, list[dict]] = {v: [] for v in variants}
    for i, q in enumerate(questions, 1):
        for variant in variants:
            messages, model, evidence = prepare(ws, dataset, resources, variant, q.question, today_dir)
            started = time.perf_counter()
            out = await endpoint.complete(messages, model=model, max_tokens=max_tokens, temperature=0.0)
            rows[variant].append({
                "id": q.id, "answer": out.text, "latency_s": time.perf_counter() - started,
                "prompt_tokens": out.prompt_tokens, "fact_recall": M.fact_recall(out.text, q.reference),
                "key_fact": M.key_fact(out.text, q.reference, q.question),
                "top_evidence_key_fact": M.key_fact(evidence[0].text, q.reference, q.question) if evidence else None})
        print(f"  {i}/{len(questions)} {q.id}", file=sys.stderr, flush=True)
        if save:  # after every question: an interrupted run still has its answers (--summarize FILE)
            Path(save).write_text(json.dumps({"dataset": dataset, "questions": i, "rows": rows}, indent=1))
    shutil.rmtree(today_dir, ignore_errors=True)
    return {"dataset": dataset, "questions": len(questions), "rows": rows}


def mean(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else float("nan")


def summarize(result: dict) -> dict:
    rows = result["rows"]
    base = rows.get("rag-today")
    out = {}
    for variant, items in rows.items():
        col = {k: [r[k] for r in items] for k in items[0]}
        entry = {"fact_recall": mean(col["fact_recall"]), "key_fact": mean(col["key_fact"]),
                 "key_fact_n": sum(v is not None for v in col["key_fact"]),
                 "prompt_tokens": mean(col["prompt_tokens"]), "latency_s": mean(col["latency_s"])}
        if variant != "few-shot" and "few-shot" in rows:
            few = rows["few-shot"]
            entry["fact_recall_minus_few_shot"] = M.paired_bootstrap_diff(
                col["fact_recall"], [r["fact_recall"] for r in few], seed=SEED)
            entry["key_fact_minus_few_shot"] = M.paired_bootstrap_diff(
                col["key_fact"], [r["key_fact"] for r in few], seed=SEED)
        if base:
            entry["tokens_vs_today"] = entry["prompt_tokens"] / mean(r["prompt_tokens"] for r in base)
            entry["latency_vs_today"] = entry["latency_s"] / mean(r["latency_s"] for r in base)
        if any(v is not None for v in col["top_evidence_key_fact"]):
            entry["top_evidence_key_fact"] = mean(col["top_evidence_key_fact"])
        out[variant] = entry
    return out


def print_table(result: dict, summary: dict) -> None:
    print(f"\n{result['dataset']}: {result['questions']} questions, local model, sequential")
    print(f"{'variant':<14} {'fact recall':>11} {'Δ vs few-shot [95% CI]':>26} {'key fact':>9} "
          f"{'Δ key [95% CI]':>24} {'tokens in':>9} {'×today':>7} {'latency ×today':>14}")
    for variant, s in summary.items():
        d = s.get("fact_recall_minus_few_shot")
        k = s.get("key_fact_minus_few_shot")
        fmt = lambda t: f"{t[0]:+.2f} [{t[1]:+.2f}, {t[2]:+.2f}]" if t else "—"  # noqa: E731
        print(f"{variant:<14} {s['fact_recall']:>11.2f} {fmt(d):>26} {s['key_fact']:>9.2f} {fmt(k):>24} "
              f"{s['prompt_tokens']:>9.0f} {s.get('tokens_vs_today', float('nan')):>7.2f} "
              f"{s.get('latency_vs_today', float('nan')):>14.2f}")
    if "rag-sentences" in summary and "top_evidence_key_fact" in summary["rag-sentences"]:
        print(f"best-ranked evidence sentence holds a key fact: {summary['rag-sentences']['top_evidence_key_fact']:.2f}")


def workspace_for(args) -> tuple[object, str, tempfile.TemporaryDirectory | None]:
    from sandbox.index import build_index

    if args.corpus:
        tmp = tempfile.TemporaryDirectory()
        src = Path(args.corpus)
        shutil.copytree(src, Path(tmp.name) / "corpora" / src.name)
        ws = load_workspace(Path(tmp.name))
        build_index(ws, src.name)
        return ws, src.name, tmp
    ws = load_workspace(Path(args.workspace))
    build_index(ws, args.dataset)  # incremental: nothing to do when the index is current
    return ws, args.dataset, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="knowledge")
    parser.add_argument("--workspace", default=".")
    parser.add_argument("--corpus", help="a dataset folder to copy into a temporary workspace")
    parser.add_argument("-n", type=int, default=24, help="questions (the first N with a reference)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", help="also write the per-answer rows (after every question) and the summary here")
    parser.add_argument("--summarize", metavar="FILE", help="only print the summary of a --json file")
    args = parser.parse_args()
    if args.summarize:
        result = json.loads(Path(args.summarize).read_text())
        print_table(result, summarize(result))
        return
    ws, dataset, tmp = workspace_for(args)
    try:
        result = asyncio.run(run(ws, dataset, args.n, args.variants.split(","), args.json))
    finally:
        if tmp is not None:
            tmp.cleanup()
    summary = summarize(result)
    print_table(result, summary)
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "summary": summary}, indent=1, default=str))


if __name__ == "__main__":
    main()
