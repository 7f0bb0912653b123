"""Judging sessions: a named, frozen set of comparisons of one dataset that many judges judge.

Answers are produced once, when the session is created: taken from the eval run of the current
settings when it answered the question, generated otherwise; so every judge sees the very same
answers and agreement measures the judges, not the sampling. Each judge sees the comparisons in
their own order, with their own column shuffle, seeded by (session, judge): the same every time
for that judge, different between judges, so position bias averages out over a group. A judge has
one vote per comparison, changeable until the session closes; every version is kept.
"""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox import PIPELINES, compare
from sandbox.judgment_stats import agreement, position_bias, summarize
from sandbox.errors import SandboxError
from sandbox.evaluate import _load_questions, eval_id, pipeline_config
from sandbox.judging import Comparison, VoteRefused, judgment_for
from sandbox.records import Judgment, RunRecord, Session, SessionItem, utcnow
from sandbox.store import Store, open_store

Progress = Callable[[int, int], None]  # (done, total)


class SessionError(SandboxError):
    """A session that cannot be created, found or changed."""


# creating -----------------------------------------------------------------------------------------
def select_questions(questions: Sequence, *, count: int | None = None, ids: Sequence[str] | None = None) -> list:
    """The questions a session holds: the given ids (in that order), else the first ``count``, else all."""
    if ids:
        by_id = {q.id: q for q in questions}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise SessionError(f"No question with id {', '.join(map(repr, unknown))} in questions.jsonl.",
                               f"Use ids from the file, e.g. {', '.join(list(by_id)[:5])}.")
        return [by_id[i] for i in dict.fromkeys(ids)]
    return list(questions)[: count or None]


def eval_answers(workspace, store: Store, dataset: str, pipelines: Sequence[str]) -> dict[str, dict[str, str]]:
    """question id -> {pipeline: run id} of the answers the eval of the *current* settings stored
    (failed answers left out: they are generated again)."""
    found: dict[str, dict[str, str]] = {}
    for pipeline in pipelines:
        for qid, row in store.eval_scores(eval_id(pipeline_config(workspace, dataset, pipeline))).items():
            if row["run_id"] and not row["metrics"].get("error"):
                found.setdefault(qid, {})[pipeline] = row["run_id"]
    return found


def create_session(workspace, dataset: str | None, *, name: str = "", count: int | None = None,
                   ids: Sequence[str] | None = None, from_eval: bool = False, pipelines: Sequence[str] = PIPELINES,
                   store: Store | None = None, stream_compare=None, progress: Progress | None = None) -> Session:
    """Freeze a set of comparisons; answers missing from the eval are generated (unless ``from_eval``)."""
    dataset = workspace.dataset_dir(dataset).name
    store = store or open_store(workspace)
    stored = eval_answers(workspace, store, dataset, pipelines)
    questions = _load_questions(workspace, dataset)
    if from_eval and not ids:  # "judge what the eval answered": only fully answered questions qualify
        questions = [q for q in questions if len(stored.get(q.id, {})) == len(pipelines)]
    questions = select_questions(questions, count=count, ids=ids)
    if not questions:
        raise SessionError(f"No questions to put in a session of {dataset}.",
                           "Run `sandbox eval` first, or leave out --from-eval to generate the answers."
                           if from_eval else "Add questions to questions.jsonl.")
    items = [SessionItem(question_id=q.id, user_input=q.question, reference=q.reference,
                         run_ids=dict(stored.get(q.id, {}))) for q in questions]
    missing = [(q, item) for q, item in zip(questions, items) if len(item.run_ids) < len(pipelines)]
    if missing and from_eval:
        raise SessionError(f"The eval of the current settings did not answer {', '.join(q.id for q, _ in missing[:5])}.",
                           f"Run `sandbox eval {dataset}` with these settings, or leave out --from-eval.")
    generated = sum(len(pipelines) - len(item.run_ids) for _, item in missing)
    _generate(workspace, dataset, missing, pipelines, store, stream_compare, progress)
    return _save(store, Session(
        name=(name or "").strip() or f"{dataset} {utcnow():%Y-%m-%d %H:%M}", dataset=dataset, pipelines=list(pipelines),
        settings={p: pipeline_config(workspace, dataset, p) for p in pipelines}, items=items,
        answers_from={"eval": len(items) * len(pipelines) - generated, "generated": generated}))


def _save(store: Store, session: Session) -> Session:
    store.add_session(session)
    return session


def _generate(workspace, dataset: str, missing, pipelines, store: Store, stream_compare, progress) -> int:
    """Answer the missing (question, pipelines) with at most [eval] concurrency calls in flight."""
    if not missing:
        return 0
    stream_compare = stream_compare or compare.stream_compare

    async def run_all() -> None:
        limiter = asyncio.Semaphore(max(1, workspace.settings.eval.concurrency))
        done = 0
        if progress:
            progress(0, len(missing))

        async def one(question, item: SessionItem) -> None:
            nonlocal done
            todo = [p for p in pipelines if p not in item.run_ids]
            async for event in stream_compare(workspace, question.question, dataset=dataset, pipelines=todo,
                                              reference=question.reference, question_id=question.id, origin="session",
                                              store=store, comparison_id=item.comparison_id, limiter=limiter):
                if record := getattr(event, "record", None):
                    item.run_ids[record.pipeline] = record.id
            done += 1
            if progress:
                progress(done, len(missing))

        await asyncio.gather(*(one(q, item) for q, item in missing))

    _run_sync(run_all())


def _run_sync(coro) -> None:
    """``asyncio.run``, also from a thread whose event loop is running (a notebook, an async caller)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


# finding and closing ---------------------------------------------------------------------------------
def get_session(store: Store, session_id: str) -> Session:
    session = store.get_session((session_id or "").strip())
    if session is None:
        known = [s.id for s in store.sessions()[:5]]
        raise SessionError(f"No session {session_id!r}.",
                           f"Use one of: {', '.join(known)} (`sandbox session list`)." if known
                           else "Create one with `sandbox session create DATASET`.")
    return session


def close_session(store: Store, session_id: str) -> Session:
    """Close a session: votes are final from now on (closing twice is harmless)."""
    session = get_session(store, session_id)
    if session.status == "open":
        session = session.model_copy(update={"status": "closed", "closed_at": utcnow()})
        if not store.close_session(session):
            session = get_session(store, session_id)  # closed meanwhile by someone else
    return session


# judging -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shown:
    """One comparison of a session as one judge sees it: position k of N, columns in ``order``."""

    item: SessionItem
    order: list[str]


def plan(session: Session, judge: str) -> list[Shown]:
    """The judge's order of comparisons and column shuffle: seeded by (session, judge), so it is the
    same on every device and visit, and differs between judges."""
    rng = random.Random(f"{session.id}:{judge.strip()}")  # str seeds hash with SHA-512: stable across runs
    items = list(session.items)
    rng.shuffle(items)
    shown = []
    for item in items:
        order = list(session.pipelines)
        rng.shuffle(order)
        shown.append(Shown(item, order))
    return shown


def comparison_for(store: Store, session: Session, shown: Shown) -> Comparison:
    """The frozen answers as a ``Comparison`` in the judge's column order (a lost run shows as an error)."""
    item = shown.item
    comparison = Comparison(session.dataset, item.user_input, list(shown.order), blind=True,
                            question_id=item.question_id, reference=item.reference, key=item.comparison_id)
    for pipeline in shown.order:
        run = store.get_run(item.run_ids.get(pipeline, ""))
        comparison.records[pipeline] = run or RunRecord(pipeline=pipeline, user_input=item.user_input,
                                                        error="This answer is missing from the store.")
        comparison.texts[pipeline] = comparison.records[pipeline].response
    return comparison


def find(session: Session, judge: str, comparison_id: str) -> Shown:
    for shown in plan(session, judge):
        if shown.item.comparison_id == comparison_id:
            return shown
    raise VoteRefused(f"Comparison {comparison_id!r} is not part of session {session.id}.",
                      "Open the session's link again; it lists its comparisons.")


def cast_vote(store: Store, session_id: str, comparison_id: str, *, judge: str, **vote) -> Judgment:
    """Record (or change) a judge's vote; the shown order comes from the server's plan, never the client."""
    session = get_session(store, session_id)
    judge = (judge or "").strip()
    shown = find(session, judge, comparison_id)
    judgment = judgment_for(comparison_for(store, session, shown), judge=judge, **vote)
    judgment = judgment.model_copy(update={"comparison_id": comparison_id, "session_id": session.id})
    if session.status != "open" or not store.add_session_vote(judgment):
        raise VoteRefused(f"Session {session.name!r} is closed; votes are final.",
                          "Ask the session's owner for a new session to judge again.")
    return judgment


def votes_of(store: Store, session: Session, judge: str) -> dict[str, Judgment]:
    """comparison id -> the judge's vote that counts."""
    return {j.comparison_id: j for j in store.judgments(session_id=session.id) if j.judge == judge.strip()}


# a shared ad-hoc comparison (/?comparison=ID) ------------------------------------------------------
def shared_comparison(store: Store, comparison_id: str) -> Session:
    """An asked comparison as a one-item session (not stored), so a second judge can open its link;
    it is seeded by the comparison id and judged under the ad-hoc rule (see ``cast_shared_vote``)."""
    runs = {r.pipeline: r for r in store.runs(comparison_id=(comparison_id or "").strip())}
    if not runs:
        raise SessionError(f"No comparison {comparison_id!r} is stored.", "Ask for a fresh link: the comparison may be from another workspace.")
    first = next(iter(runs.values()))
    item = SessionItem(comparison_id=comparison_id, question_id=first.question_id, user_input=first.user_input,
                       reference=first.reference, run_ids={p: r.id for p, r in runs.items()})
    return Session(id=comparison_id, name="shared comparison", dataset=first.dataset, pipelines=list(runs), items=[item])


def cast_shared_vote(store: Store, lock: threading.Lock, comparison_id: str, *, judge: str, **vote) -> Judgment:
    """A vote through a shared link: each judge votes once on an ad-hoc comparison, and cannot change it."""
    session = shared_comparison(store, comparison_id)
    judge = (judge or "").strip()
    judgment = judgment_for(comparison_for(store, session, plan(session, judge)[0]), judge=judge, **vote)
    judgment = judgment.model_copy(update={"comparison_id": comparison_id})
    with lock:  # check-then-insert must not interleave with a second click
        if store.is_judged(comparison_id, judge=judge):
            raise VoteRefused(f"{judge} has already judged this comparison.", "Each judge votes once on a shared comparison.")
        store.add_judgment(judgment)
    return judgment


# results ---------------------------------------------------------------------------------------------------
def results(store: Store, session: Session) -> dict:
    """The analysis on identical answers: win rates, Bradley–Terry, agreement and Fleiss' kappa per
    comparison, position bias per judge, and what is still missing."""
    judgments = store.judgments(session_id=session.id)
    out = summarize(judgments)
    out["agreement"] = agreement(judgments, key=lambda j: j.comparison_id)
    out["position_bias"] = position_bias(judgments)
    per_item: dict[str, int] = {item.comparison_id: 0 for item in session.items}
    per_judge: dict[str, int] = {}
    for j in judgments:
        per_item[j.comparison_id] = per_item.get(j.comparison_id, 0) + 1
        per_judge[j.judge] = per_judge.get(j.judge, 0) + 1
    out["session"] = {"id": session.id, "name": session.name, "dataset": session.dataset, "status": session.status,
                      "comparisons": len(session.items), "unjudged": sum(n == 0 for n in per_item.values()),
                      "single_judge": sum(n == 1 for n in per_item.values()),
                      "remaining_by_judge": {judge: len(session.items) - n for judge, n in sorted(per_judge.items())}}
    return out


def describe(session: Session) -> dict:
    """What `session list/show --json` print about a session itself."""
    data = session.model_dump(mode="json", exclude={"items"})
    data["comparisons"] = len(session.items)
    data["question_ids"] = [item.question_id for item in session.items]
    return data
