"""The judging view: ``/?session=ID`` (a judging session) or ``/?comparison=ID`` (one asked comparison,
shared so a second judge can vote too) replaces the tabs with one comparison at a time, blind, in the
judge's own seeded order, with the Compare tab's vote form, "k of N", skip and back.

Handlers are plain functions over ``AppContext`` (``page``, ``vote``); ``build`` only wires them.
The judge is the login when the app runs with ``--auth``; otherwise the name typed once per browser.
Answers and names go into Textboxes (text, never HTML).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import PIPELINES
from sandbox.app.context import AppContext
from sandbox.app.judgments_tab import overview_text, win_table
from sandbox.errors import SandboxError
from sandbox.judging import LABELS, TAGS, VoteRefused
from sandbox.records import Judgment, Session
from sandbox.sessions import (Shown, cast_shared_vote, cast_vote, comparison_for, get_session, plan, results,
                              shared_comparison, votes_of)

N = len(PIPELINES)
VERDICT_CHOICES = [*LABELS[:N], "Tie", "All bad"]
QUERY_KINDS = ("session", "comparison")


@dataclass(frozen=True)
class Target:
    """What a link opens: a stored session, or one shared ad-hoc comparison as a one-item session."""

    kind: str
    session: Session

    @classmethod
    def open(cls, ctx: AppContext, kind: str, ident: str) -> "Target":
        if kind == "session":
            return cls(kind, get_session(ctx.store, ident))
        return cls(kind, shared_comparison(ctx.store, ident))

    def votes(self, ctx: AppContext, judge: str) -> dict[str, Judgment | None]:
        """comparison id -> the judge's vote (None: voted, but a shared comparison's vote is final)."""
        if self.kind == "session":
            return dict(votes_of(ctx.store, self.session, judge))
        cid = self.session.items[0].comparison_id
        return {cid: None} if judge and ctx.store.is_judged(cid, judge=judge) else {}

    def vote(self, ctx: AppContext, judge: str, comparison_id: str, **vote: Any) -> Judgment:
        if self.kind == "session":
            return cast_vote(ctx.store, self.session.id, comparison_id, judge=judge, **vote)
        return cast_shared_vote(ctx.store, ctx.vote_lock, comparison_id, judge=judge, **vote)


def target_from_query(params: Mapping[str, str]) -> tuple[str, str] | None:
    for kind in QUERY_KINDS:
        if (params.get(kind) or "").strip():
            return kind, params[kind].strip()
    return None


def judge_of(typed: str | None, request: Any = None) -> str:
    """The login name when the app asks for one (it cannot be typed over), else the typed name."""
    return (getattr(request, "username", None) or typed or "").strip()


# --- plain views (tested directly) ---------------------------------------------------------
def first_open(shown: list[Shown], votes: Mapping[str, Any], start: int = 0) -> int | None:
    """The first comparison from ``start`` on (wrapping) the judge has not voted on; None when all are."""
    for step in range(len(shown)):
        pos = (start + step) % len(shown)
        if shown[pos].item.comparison_id not in votes:
            return pos
    return None


def page(ctx: AppContext, target: Target, judge: str, pos: int) -> dict[str, Any]:
    """Everything the view shows for comparison ``pos`` of the judge's plan."""
    session = target.session
    shown = plan(session, judge)
    pos = pos % len(shown)
    votes = target.votes(ctx, judge)
    comparison = comparison_for(ctx.store, session, shown[pos])
    cid = shown[pos].item.comparison_id
    title = (f"{session.name} · {session.dataset}" if target.kind == "session" else "A shared comparison") + \
        f" · comparison {pos + 1} of {len(shown)} · you voted on {len(votes)} of {len(shown)}"
    if session.status != "open":
        status = "This session is closed: votes are final. Results are below."
    elif cid in votes:
        status = ("You voted on this one; vote again to change your vote (the latest counts)."
                  if target.kind == "session" else "You voted on this comparison.")
    else:
        status = "Pick the best answer (or Tie / All bad); ranks, ratings and tags are optional."
    return {"pos": pos, "comparison_id": cid, "title": title, "question": comparison.question, "status": status,
            "answers": [_answer_text(comparison.records[p]) for p in shown[pos].order],
            "vote": form_values(votes.get(cid), shown[pos].order), "finished": len(votes) == len(shown),
            "closed": session.status != "open"}


def _answer_text(record) -> str:
    return f"Error: {record.error}" if record.error else record.response


def form_values(judgment: Judgment | None, order: list[str]) -> dict[str, Any]:
    """A stored vote as the form shows it (labels in this judge's order); empty when none."""
    if judgment is None:
        return {"verdict": None, "comment": "", "ranks": [None] * N, "ratings": [None] * N, "tags": [[]] * N}
    verdict = {"tie": "Tie", "all-bad": "All bad"}.get(judgment.verdict) or LABELS[order.index(judgment.best)]
    return {"verdict": verdict, "comment": judgment.comment,
            "ranks": [str(judgment.ranks[p]) if p in judgment.ranks else None for p in order],
            "ratings": [str(judgment.ratings[p]) if p in judgment.ratings else None for p in order],
            "tags": [judgment.tags.get(p, []) for p in order]}


def results_text(analysis: dict) -> str:
    if not analysis["judgments"]:
        return "No votes yet: send the session's link to the judges."
    lines = [overview_text(analysis)]
    for judge, b in analysis["position_bias"].items():
        lines.append(f"{judge}: left column picked in {b['left']} of {b['picks']} ({b['share']:.0%}, a shuffle "
                     f"predicts {b['expected']:.0%})" + (": position bias." if b["biased"] else "."))
    s = analysis["session"]
    lines.append(f"{s['unjudged']} of {s['comparisons']} comparison(s) unjudged, {s['single_judge']} judged once.")
    return "\n".join(lines)


# --- API (gradio_client): the same functions, JSON in and out ---------------------------------
def make_api(ctx: AppContext) -> None:
    import gradio as gr

    def session_plan(session_id: str, judge: str = "", request: gr.Request = None) -> dict:
        """The judge's comparisons of a session, in their seeded order, blind (labels A, B, C), with their votes."""
        judge = judge_of(judge, request)
        try:
            target = Target.open(ctx, "session", session_id)
        except SandboxError as exc:
            raise gr.Error(str(exc)) from exc
        votes = target.votes(ctx, judge)
        items = []
        for shown in plan(target.session, judge):
            c = comparison_for(ctx.store, target.session, shown)
            items.append({"comparison_id": shown.item.comparison_id, "question": c.question,
                          "answers": [{"label": LABELS[i], "answer": _answer_text(c.records[p])}
                                      for i, p in enumerate(shown.order)],
                          "vote": form_values(votes[shown.item.comparison_id], shown.order)["verdict"]
                          if shown.item.comparison_id in votes else None})
        return {"session_id": target.session.id, "name": target.session.name, "status": target.session.status,
                "judge": judge, "comparisons": items}

    def session_vote(session_id: str, comparison_id: str, judge: str, verdict: str = "", ranks: dict | None = None,
                     ratings: dict | None = None, tags: dict | None = None, comment: str = "",
                     request: gr.Request = None) -> dict:
        """Vote (or change a vote) on a session's comparison; labels are the ones `session_plan` showed this judge."""
        try:
            j = cast_vote(ctx.store, session_id, comparison_id, judge=judge_of(judge, request), verdict=verdict,
                          ranks=ranks, ratings=ratings, tags=tags, comment=comment)
        except SandboxError as exc:
            raise gr.Error(str(exc)) from exc
        return {"judgment_id": j.id, "judge": j.judge, "verdict": j.verdict}

    def session_results(session_id: str) -> dict:
        """A session's analysis: win rates, Bradley–Terry, agreement and Fleiss' kappa, position bias, coverage."""
        try:
            return results(ctx.store, get_session(ctx.store, session_id))
        except SandboxError as exc:
            raise gr.Error(str(exc)) from exc

    gr.api(session_plan, api_name="session_plan", concurrency_limit=None)
    gr.api(session_vote, api_name="session_vote", concurrency_limit=None)
    gr.api(session_results, api_name="session_results")


# --- wiring ----------------------------------------------------------------------------------
def build(ctx: AppContext, demo: Any, main: Any, remembered: Any) -> None:
    """The (hidden) judging view; a load event shows it instead of ``main`` when the URL names a target."""
    import gradio as gr

    state = gr.State(None)  # {"kind", "id", "pos", "judge"}
    with gr.Column(visible=False, elem_id="judging-view") as view:
        title = gr.Textbox(show_label=False, interactive=False, container=False, elem_id="s-title")
        question = gr.Textbox(label="Question", lines=2, interactive=False, elem_id="s-question")
        with gr.Column() as form:
            cols: list[dict[str, Any]] = []
            with gr.Row(equal_height=False):
                for i in range(N):
                    with gr.Column(min_width=240):
                        cols.append({
                            "answer": gr.Textbox(label=f"Answer {LABELS[i]}", lines=8, max_lines=30, interactive=False,
                                                 elem_id=f"s-answer-{i}"),
                            "rank": gr.Dropdown(choices=[str(r) for r in range(1, N + 1)], value=None,
                                                label=f"Rank of {LABELS[i]}", elem_id=f"s-rank-{i}"),
                            "rating": gr.Radio(choices=["1", "2", "3", "4", "5"], value=None,
                                               label=f"Rating of {LABELS[i]} (1–5)", elem_id=f"s-rating-{i}"),
                            "tags": gr.CheckboxGroup(choices=list(TAGS), value=[], label="Tags", elem_id=f"s-tags-{i}")})
            with gr.Row():
                verdict = gr.Radio(choices=VERDICT_CHOICES, value=None, label="Best answer", elem_id="s-verdict", scale=3)
                comment = gr.Textbox(label="Comment (optional)", elem_id="s-comment", scale=3)
            with gr.Row():
                back = gr.Button("◀ Back", elem_id="s-back")
                skip = gr.Button("Skip ▶", elem_id="s-skip")
                vote_btn = gr.Button("Vote", variant="primary", elem_id="s-vote")
        status = gr.Markdown(elem_id="s-status")
        with gr.Column(visible=False) as results_box:
            summary = gr.Textbox(label="Results of this session", lines=6, interactive=False, elem_id="s-results")
            wins = gr.Dataframe(headers=["pipeline", "wins", "shown", "win rate", "95% CI", "Bradley–Terry"],
                                interactive=False, elem_id="s-win-table")
    fields = [col[k] for col in cols for k in ("answer", "rank", "rating", "tags")]
    outputs = [state, view, main, ctx.dataset, title, question, form, status, results_box, summary, wins, verdict,
               comment, *fields]

    def render(where: dict | None, judge: str, pos: int | None = None, note: str = "") -> dict:
        if where is None:  # not a judging link: leave the page alone (a dict return needs one key)
            return {state: None}
        out: dict = {state: where, view: gr.update(visible=True), main: gr.update(visible=False),
                     ctx.dataset: gr.update(visible=False)}
        try:
            target = Target.open(ctx, where["kind"], where["id"])
        except SandboxError as exc:
            return {**out, title: "", question: "", form: gr.update(visible=False), status: f"Cannot open this link: {exc}"}
        if not judge:
            return {**out, title: target.session.name, question: "", form: gr.update(visible=False),
                    status: "Type your name at the top and press Enter to start (asked once; this browser remembers it)."}
        if pos is None:
            pos = first_open(plan(target.session, judge), target.votes(ctx, judge))
            pos = 0 if pos is None else pos
        view_ = page(ctx, target, judge, pos)
        out.update({state: {**where, "pos": view_["pos"], "judge": judge}, title: view_["title"], question: view_["question"],
                    form: gr.update(visible=True), status: (note + " " if note else "") + view_["status"],
                    results_box: gr.update(visible=view_["finished"] or view_["closed"]),
                    verdict: view_["vote"]["verdict"], comment: view_["vote"]["comment"]})
        for i, col in enumerate(cols):
            out.update({col["answer"]: view_["answers"][i], col["rank"]: view_["vote"]["ranks"][i],
                        col["rating"]: view_["vote"]["ratings"][i], col["tags"]: view_["vote"]["tags"][i]})
        if view_["finished"] or view_["closed"]:
            if target.kind == "session":
                analysis = results(ctx.store, target.session)
                out.update({summary: results_text(analysis), wins: win_table(analysis)})
            else:
                out.update({summary: "Thank you: your vote is recorded.", wins: []})
        return out

    def on_load(saved: str, request: gr.Request) -> dict:
        found = target_from_query(dict(request.query_params))
        where = {"kind": found[0], "id": found[1], "pos": 0} if found else None
        return render(where, judge_of(saved, request))

    def on_name(name: str, where: dict | None, request: gr.Request) -> dict:
        judge = judge_of(name, request)
        if where is not None and where.get("judge") == judge:  # Enter, then blur: same judge, keep the form
            return {state: where}
        return render(where, judge)

    def on_move(step: int):
        def move(name: str, where: dict | None, request: gr.Request) -> dict:
            return render(where, judge_of(name, request), where["pos"] + step if where else None)
        return move

    def on_vote(data: dict, request: gr.Request) -> dict:
        where, judge = data[state], judge_of(data[ctx.judge_name], request)
        if where is None:
            return {state: None}
        try:
            target = Target.open(ctx, where["kind"], where["id"])
            shown = plan(target.session, judge)
            target.vote(ctx, judge, shown[where["pos"]].item.comparison_id, verdict=data[verdict], comment=data[comment],
                        ranks={LABELS[i]: data[c["rank"]] for i, c in enumerate(cols)},
                        ratings={LABELS[i]: data[c["rating"]] for i, c in enumerate(cols)},
                        tags={LABELS[i]: data[c["tags"]] for i, c in enumerate(cols)})
        except SandboxError as exc:
            gr.Warning(exc.message)
            return {status: f"Vote not recorded: {exc}"}
        following = first_open(shown, target.votes(ctx, judge), where["pos"] + 1)
        done = "Vote recorded." + (" All comparisons judged: thank you! Results below." if following is None else "")
        return render(where, judge, where["pos"] if following is None else following, note=done)

    def restore_name(saved: str, request: gr.Request):
        if request is not None and request.username:  # --auth: the login is the name, and cannot be typed over
            return gr.update(value=request.username, interactive=False)
        return saved or ""

    demo.load(restore_name, remembered, ctx.judge_name, api_visibility="private")
    demo.load(on_load, remembered, outputs, api_visibility="private")
    gr.on([ctx.judge_name.submit, ctx.judge_name.blur], on_name, [ctx.judge_name, state], outputs,
          api_visibility="private", show_progress="hidden")  # no overlay: the judge may click a vote meanwhile
    back.click(on_move(-1), [ctx.judge_name, state], outputs, api_visibility="private")
    skip.click(on_move(1), [ctx.judge_name, state], outputs, api_visibility="private")
    vote_inputs = {state, ctx.judge_name, verdict, comment, *(c[k] for c in cols for k in ("rank", "rating", "tags"))}
    vote_btn.click(on_vote, vote_inputs, outputs, api_visibility="private")
    make_api(ctx)
