"""Compare tab: one question, three pipelines streaming side by side, then a (blind) vote.

Handlers are plain functions over ``AppContext`` and a ``Comparison`` (see ``sandbox/judging.py``);
``build`` only wires them to components. Answers, sources and errors go into Textboxes,
which render text, never HTML: model output and document text cannot run script here.
"""

from __future__ import annotations

from typing import Any

from sandbox import PIPELINES
from sandbox.app import fine_tuned_column, popups, verdict_line
from sandbox.app.context import AppContext
from sandbox.errors import SandboxError
from sandbox.evidence import supporting
from sandbox.judging import LABELS, TAGS, Comparison, VoteRefused
from sandbox.questions import load_questions as read_questions
from sandbox.records import SHOWN_LOAD_S

N = len(PIPELINES)
VERDICT_CHOICES = [*LABELS[:N], "Tie", "All bad"]
HIDDEN_SOURCES = "Sources are shown after your vote (they would tell which answer is RAG)."


# --- plain views (tested directly) ---------------------------------------------------------
def column_view(c: Comparison, index: int) -> dict[str, str]:
    """What column ``index`` shows: header, answer text, figures, sources."""
    if index >= len(c.order):  # the fine-tuned model is not ready: its status box says why
        return {"header": f"### {fine_tuned_column.FINE_TUNED} (not ready yet)", "answer": "", "meta": "", "sources": ""}
    pipeline = c.order[index]
    label = LABELS[index]
    record = c.records.get(pipeline)
    header = f"### {label} · {pipeline}" if c.revealed else f"### {label}"
    if record is None:
        answer = c.texts.get(pipeline, "")
        meta = "answering…" if answer else "waiting…"
    elif record.error:
        answer = f"Error: {shown_error(c, record)}"
        meta = f"failed after {record.latency_s:.2f} s"
    else:
        answer = record.response
        meta = _meta(record, c.revealed)
    return {"header": header, "answer": answer, "meta": meta, "evidence": _evidence(c, record),
            "sources": _sources(c, record)}


def _evidence(c: Comparison, record) -> str:
    """The evidence sentences the answer was built from, each with its source, the ones the answer
    draws from marked ▶ (plain text). Hidden in blind mode: evidence would tell which answer is RAG."""
    if record is None or not record.evidence or not c.revealed:
        return ""
    used = set(supporting(record.response, record.evidence))
    return "\n".join(f"{'▶' if i in used else ' '} [{i + 1}] {e.text}  ({e.source})" for i, e in enumerate(record.evidence))


def shown_error(c: Comparison, record) -> str | None:
    """A run's error; before a blind vote without the model and endpoint it names (they tell the pipeline)."""
    error = record.error
    if error and not c.revealed:
        for name in sorted({record.model, record.endpoint} - {"", None}, key=len, reverse=True):
            error = error.replace(name, "(hidden until the vote)")
    return error


def _meta(record, revealed: bool) -> str:
    parts = [f"{record.latency_s:.2f} s", f"{record.completion_tokens} tokens out"]
    # prompt size, its cost, loading an embedder (RAG only) and the model name would give the pipeline away
    if revealed:
        parts[1:1] = [f"{record.prompt_tokens} tokens in"]
        parts.append(f"${record.cost_usd:.5f}")
        if record.load_s >= SHOWN_LOAD_S:  # one-time model loading, kept out of the latency
            parts.append(f"+ {record.load_s:.1f} s loading (once)")
        parts.append(record.model)
    return " · ".join(p for p in parts if p)


def _sources(c: Comparison, record) -> str:
    if not c.revealed:
        return HIDDEN_SOURCES
    if record is None or not record.contexts:
        return "(no retrieved sources)"
    return "\n\n".join(
        f"[{i}] {ctx.source}  (score {ctx.score:.3f})\n{ctx.text}" for i, ctx in enumerate(record.contexts, 1)
    )


def status_view(c: Comparison | None) -> str:
    if c is None:
        return ""
    if c.failure:
        return f"Could not run the comparison: {c.failure}"
    if not c.done:
        return f"Answering… ({len(c.records)}/{len(c.order)} done)"
    share = f" Another judge can vote on these same answers: [/?comparison={c.comparison_id}](/?comparison={c.comparison_id})."
    if c.judged:
        names = ", ".join(f"{LABELS[i]} = {p}" for i, p in enumerate(c.order))
        return f"Vote recorded. Revealed: {names}." + share
    return "All answers are in. Vote below." + (" (Blind: pipeline names are revealed after the vote.)" if c.blind else "") + share


def load_questions(ctx: AppContext, dataset: str | None) -> tuple[list[Any], str]:
    """The dataset's questions.jsonl (or [] and a message saying what is wrong with it)."""
    if not dataset:
        return [], ""
    try:
        path = ctx.workspace.dataset_dir(dataset) / "questions.jsonl"
        if not path.is_file():
            return [], ""
        return read_questions(path), ""
    except SandboxError as exc:
        return [], str(exc)


def question_choices(questions) -> list[tuple[str, str]]:
    return [(f"{q.id}: {q.question[:90]}", q.id) for q in questions]


def pick_question(ctx: AppContext, dataset: str | None, question_id: str | None) -> tuple[str, str]:
    """The question text and its reference ('' when none) for a picked id."""
    questions, _ = load_questions(ctx, dataset)
    for q in questions:
        if q.id == question_id:
            return q.question, q.reference or ""
    return "", ""


def resolve_question(ctx: AppContext, dataset: str | None, question: str, question_id: str | None):
    """A picked question keeps its id and reference only while its text is unchanged."""
    text, reference = pick_question(ctx, dataset, question_id) if question_id else ("", "")
    if question_id and text and text.strip() == (question or "").strip():
        return question_id, reference or None
    return "", None


# --- API (gradio_client): the same handlers, JSON in and out ---------------------------------
def answers_json(c: Comparison) -> dict[str, Any]:
    answers = []
    for i, pipeline in enumerate(c.order):
        record = c.records.get(pipeline)
        item = {"label": LABELS[i], "answer": record.response if record else c.texts.get(pipeline, ""),
                "error": shown_error(c, record) if record else None}
        if record:
            item.update(latency_s=round(record.latency_s, 3), completion_tokens=record.completion_tokens)
        if c.revealed:  # prompt size, its cost, the embedder's loading time would tell RAG from the others
            if record:
                item.update(load_s=round(record.load_s, 3), prompt_tokens=record.prompt_tokens,
                            cost_usd=record.cost_usd, model=record.model)
            item["pipeline"] = pipeline
            item["contexts"] = [x.model_dump() for x in (record.contexts if record else [])]
            item["evidence"] = [x.model_dump() for x in (record.evidence if record else [])]
        answers.append(item)
    return {"comparison_id": c.comparison_id, "dataset": c.dataset, "question": c.question,
            "question_id": c.question_id, "blind": c.blind, "answers": answers}


def make_api(ctx: AppContext):
    import gradio as gr

    async def ask(question: str, dataset: str = "", blind: bool = True, question_id: str = "") -> dict:
        """Answer a question with every pipeline. Blind: answers are labelled A/B/C, pipelines hidden until judged."""
        dataset = dataset or ctx.default_dataset() or ""
        if question_id and not question:
            question, _ = pick_question(ctx, dataset, question_id)
        qid, reference = resolve_question(ctx, dataset, question, question_id)
        try:
            c = ctx.new_comparison(dataset, question, blind=blind, question_id=qid, reference=reference)
        except SandboxError as exc:
            raise gr.Error(str(exc)) from exc
        async for _ in ctx.run_comparison(c):
            pass
        ctx.comparisons[c.comparison_id] = c
        return answers_json(c)

    def judge(comparison_id: str, judge: str, verdict: str = "", ranks: dict | None = None,
              ratings: dict | None = None, tags: dict | None = None, comment: str = "") -> dict:
        """Vote on a comparison from `ask`. verdict: "A"/"B"/"C", "tie" or "all-bad"; ranks/ratings/tags keyed by label."""
        try:
            j = ctx.cast_vote(ctx.comparisons.get(comparison_id), judge=judge, verdict=verdict, ranks=ranks,
                          ratings=ratings, tags=tags, comment=comment)
        except VoteRefused as exc:
            raise gr.Error(str(exc)) from exc
        return {"judgment_id": j.id, "best": j.best, "verdict": j.verdict,
                "revealed": {LABELS[i]: p for i, p in enumerate(j.shown_order)}}

    gr.api(ask, api_name="ask")
    gr.api(judge, api_name="judge")


# --- wiring ----------------------------------------------------------------------------------
def build(ctx: AppContext) -> None:
    import gradio as gr

    with gr.Tab("Compare", id="compare") as tab:
        state = gr.State(None)
        verdict_text = verdict_line.build(ctx)
        with gr.Row():
            initial, _ = load_questions(ctx, ctx.default_dataset())
            picker = gr.Dropdown(label="Pick a question from the dataset", choices=question_choices(initial), value=None,
                                 elem_id="question-picker", scale=3)
            blind = gr.Checkbox(value=ctx.blind_default, label="Blind judging (shuffle, hide names)", elem_id="blind")
        question = gr.Textbox(label="Question", lines=2, elem_id="question", placeholder="Type a question…",
                              max_length=ctx.workspace.settings.limits.question_chars)
        reference = gr.Textbox(label="Reference answer (from questions.jsonl)", interactive=False, visible=True,
                               elem_id="reference", lines=2)
        ask_btn = gr.Button("Ask all three", variant="primary", elem_id="ask")
        status = gr.Markdown(elem_id="status")
        cols: list[dict[str, Any]] = []
        with gr.Row(equal_height=False):
            for i in range(N):
                with gr.Column(min_width=240):
                    if i == N - 1:  # where the fine-tuned answer appears once its model exists
                        ft_outputs, ft_refresh = fine_tuned_column.build(ctx)
                    col = {"header": gr.Markdown(f"### {LABELS[i]}", elem_id=f"header-{i}"),
                           "answer": gr.Textbox(label="Answer", lines=10, max_lines=30, interactive=False,
                                                elem_id=f"answer-{i}", buttons=["copy"]),
                           "meta": gr.Textbox(show_label=False, container=False, interactive=False, elem_id=f"meta-{i}"),
                           "evidence": gr.Textbox(label="Evidence (sentences given to the model; ▶ = used)", lines=2,
                                                  max_lines=8, interactive=False, elem_id=f"evidence-{i}")}
                    with gr.Accordion("Retrieved sources", open=False, elem_id=f"sources-acc-{i}"):
                        col["sources"] = gr.Textbox(show_label=False, lines=6, max_lines=30, interactive=False,
                                                    elem_id=f"sources-{i}")
                    col["rank"] = gr.Dropdown(choices=[str(r) for r in range(1, N + 1)], value=None,
                                              label=f"Rank of {LABELS[i]}", elem_id=f"rank-{i}")
                    col["rating"] = gr.Radio(choices=["1", "2", "3", "4", "5"], value=None,
                                             label=f"Rating of {LABELS[i]} (1–5)", elem_id=f"rating-{i}")
                    col["tags"] = gr.CheckboxGroup(choices=list(TAGS), value=[], label="Tags", elem_id=f"tags-{i}")
                    cols.append(col)
        with gr.Row():
            verdict = gr.Radio(choices=VERDICT_CHOICES, value=None, label="Best answer", elem_id="verdict", scale=3)
            comment = gr.Textbox(label="Comment (optional)", elem_id="comment", scale=3)
            vote_btn = gr.Button("Vote", variant="primary", elem_id="vote", scale=1)

        view_outputs = [state, status] + [col[k] for col in cols for k in ("header", "answer", "meta", "evidence", "sources")]
        reset_outputs = [verdict, comment] + [col[k] for col in cols for k in ("rank", "rating", "tags")]

        def render(c: Comparison | None) -> dict:
            out: dict = {state: c, status: status_view(c)}
            if c is not None:
                for i, col in enumerate(cols):
                    for key, value in column_view(c, i).items():
                        out[col[key]] = value
            return out

        async def on_ask(dataset, text, picked, is_blind):
            qid, ref = resolve_question(ctx, dataset, text, picked)
            try:
                c = ctx.new_comparison(dataset, text, blind=is_blind, question_id=qid, reference=ref,
                                         pipelines=fine_tuned_column.pipelines_for(ctx, dataset))
            except SandboxError as exc:
                popups.warn(exc)
                yield {status: f"Cannot ask: {exc}"}
                return
            first = render(c)
            first.update({verdict: None, comment: ""})
            for col in cols:
                first.update({col["rank"]: None, col["rating"]: None, col["tags"]: []})
            yield first
            async for c in ctx.run_comparison(c):
                yield render(c)

        def on_vote(data: dict) -> dict:
            c = data[state]
            try:
                ctx.cast_vote(
                    c, judge=data[ctx.judge_name], verdict=_verdict(data[verdict]),
                    ranks={LABELS[i]: data[col["rank"]] for i, col in enumerate(cols)},
                    ratings={LABELS[i]: data[col["rating"]] for i, col in enumerate(cols)},
                    tags={LABELS[i]: data[col["tags"]] for i, col in enumerate(cols)}, comment=data[comment],
                )
            except VoteRefused as exc:
                popups.warn(exc.message)
                return {status: f"Vote not recorded: {exc}"}
            return render(c)

        def on_dataset(dataset):
            questions, problem = load_questions(ctx, dataset)
            if problem:
                popups.warn(problem)
            return gr.update(choices=question_choices(questions), value=None)

        def on_pick(dataset, picked):
            text, ref = pick_question(ctx, dataset, picked)
            return (text, ref) if text else (gr.update(), gr.update())

        def on_enter(dataset, picked):
            """Questions uploaded in the Data tab must be pickable without a reload; a pick that still exists stays."""
            questions, _ = load_questions(ctx, dataset)
            keep = picked if any(q.id == picked for q in questions) else None
            return gr.update(choices=question_choices(questions), value=keep)

        ctx.dataset.change(on_dataset, ctx.dataset, picker, api_visibility="private")
        tab.select(on_enter, [ctx.dataset, picker], picker, api_visibility="private")
        tab.select(lambda d: verdict_line.line(ctx, d), ctx.dataset, verdict_text, api_visibility="private")
        tab.select(ft_refresh, ctx.dataset, ft_outputs, api_visibility="private")
        ctx.on_load.append((ft_refresh, ft_outputs))
        picker.input(on_pick, [ctx.dataset, picker], [question, reference], api_visibility="private")
        gr.on([ask_btn.click, question.submit], on_ask, [ctx.dataset, question, picker, blind],
              view_outputs + reset_outputs, api_visibility="private", concurrency_limit=None).then(
            ft_refresh, ctx.dataset, ft_outputs, api_visibility="private")
        vote_inputs = {state, ctx.judge_name, verdict, comment, *(col[k] for col in cols for k in ("rank", "rating", "tags"))}
        vote_btn.click(on_vote, vote_inputs, view_outputs, api_visibility="private")
        make_api(ctx)


def _verdict(value: str | None) -> str:
    return {"Tie": "tie", "All bad": "all-bad"}.get(value or "", value or "")
