"""Training exports train on the prompt a pipeline serves (#18): the fine-tuned pipeline's own
``prompt_messages``, the RAG contexts a stored run was shown, TRL's conversational pairs; and the
exported file passes preflight and is tokenized by the trainer exactly as the server tokenizes the
served prompt."""

import json

import pytest

from sandbox.config import load_workspace
from sandbox.judgment_export import export
from sandbox.pipelines import Resources
from sandbox.pipelines.fine_tuned import FineTunedPipeline
from sandbox.pipelines.rag import RagPipeline
from sandbox.records import Context, Judgment, RunRecord
from sandbox.store import Store

SYSTEM = "Answer as one short line of lowercase words."


@pytest.fixture
def ws(workspace_dir):
    folder = workspace_dir / "corpora" / "tickets"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "guide.md").write_text("Reset the valve before restarting the pump.\n")
    rows = [{"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"ticket {i}?"},
                          {"role": "assistant", "content": f"fixed {i}"}]} for i in range(12)]
    (folder / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_workspace(workspace_dir)


def judged(store, question, best, contexts=(), comparison="c"):
    runs = {p: RunRecord(pipeline=p, user_input=question, response=f"{p} says: {question} done", dataset="tickets",
                         comparison_id=comparison, contexts=list(contexts) if p == "rag" else [])
            for p in ("few-shot", "rag", "fine-tuned")}
    store.add_runs(runs.values())
    order = [best] + [p for p in runs if p != best]
    store.add_judgment(Judgment(comparison_id=comparison, dataset="tickets", user_input=question,
                                run_ids={p: r.id for p, r in runs.items()}, shown_order=order, verdict="best", best=best,
                                ranks={p: i for i, p in enumerate(order, start=1)}))
    return runs


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_finetune_export_is_the_fine_tuned_pipelines_prompt(ws, tmp_path):
    store = Store(tmp_path / "s.db")
    judged(store, "Pump 3 hums, what now?", "rag")
    result = export(store, "finetune", tmp_path / "ft.jsonl", workspace=ws)
    served = FineTunedPipeline(ws, "tickets", Resources(ws)).prompt_messages("Pump 3 hums, what now?")
    assert served[0] == {"role": "system", "content": SYSTEM}  # the system message is not dropped
    assert lines(tmp_path / "ft.jsonl") == [{"messages": served + [{"role": "assistant", "content": "rag says: Pump 3 hums, what now? done"}]}]
    assert result["as_prompt"] == "fine-tuned" and result["skipped"] == 0


def test_as_prompt_rag_uses_the_contexts_the_run_was_shown(ws, tmp_path):
    store = Store(tmp_path / "s.db")
    shown = [Context(source="guide.md", text="Reset the valve before restarting the pump.", chunk_id="guide.md#0")]
    judged(store, "Pump 3 hums, what now?", "rag", contexts=shown, comparison="c1")
    judged(store, "No rag run here?", "few-shot", comparison="c2")  # its rag run was shown nothing: skipped
    result = export(store, "finetune", tmp_path / "ft.jsonl", workspace=ws, as_prompt="rag")
    expected = RagPipeline(ws, "tickets", Resources(ws)).prompt_messages("Pump 3 hums, what now?", shown)
    [row] = lines(tmp_path / "ft.jsonl")
    assert row["messages"][:-1] == expected and "Reset the valve" in json.dumps(expected)
    assert result["skipped"] == 1


def test_pairs_are_trl_conversational_on_the_served_prompt(ws, tmp_path):
    store = Store(tmp_path / "s.db")
    judged(store, "Which valve?", "fine-tuned")
    export(store, "pairs", tmp_path / "p.jsonl", workspace=ws)
    pairs = lines(tmp_path / "p.jsonl")
    served = FineTunedPipeline(ws, "tickets", Resources(ws)).prompt_messages("Which valve?")
    assert len(pairs) == 3  # fine-tuned > few-shot, fine-tuned > rag, few-shot > rag (ranks 1, 2, 3)
    for pair in pairs:
        assert set(pair) == {"prompt", "chosen", "rejected"} and pair["prompt"] == served
        assert [m["role"] for m in pair["chosen"] + pair["rejected"]] == ["assistant", "assistant"]
    assert pairs[0]["chosen"][0]["content"].startswith("fine-tuned says")


def test_unknown_as_prompt_is_a_clear_error(ws, tmp_path):
    from sandbox.errors import SandboxError

    with pytest.raises(SandboxError, match="as-prompt"):
        export(Store(tmp_path / "s.db"), "finetune", tmp_path / "ft.jsonl", workspace=ws, as_prompt="zero-shot")


def test_export_preflight_and_trainer_see_the_served_prompt(ws, tmp_path):
    """Fine-tune export -> check-data passes -> the trainer's tokens for each example start with exactly the
    tokens the server feeds the model for the served prompt (no training: the data preparation is compared)."""
    from sandbox.examples import parse_examples
    from sandbox.finetune.preflight import preflight
    from sandbox.finetune.tokens import IGNORE
    from sandbox.finetune.trainer import encode_all
    from sandbox.localmodel.tokenizer import load_tokenizer

    store = Store(tmp_path / "s.db")
    questions = [f"Pump {i} hums after the {i}th restart, what now?" for i in range(10)]
    for i, q in enumerate(questions):
        judged(store, q, ("rag", "few-shot", "fine-tuned")[i % 3], comparison=f"c{i}")
    out = tmp_path / "ft.jsonl"
    export(store, "finetune", out, workspace=ws)
    tokenizer = load_tokenizer()
    report = preflight(out, tokenizer=tokenizer, split_path=tmp_path / "split.json")
    assert report.ok and report.n_examples == 10, report.errors
    examples, problems = parse_examples(out)
    assert not problems
    pipeline = FineTunedPipeline(ws, "tickets", Resources(ws))
    for question, (ids, labels) in zip(questions, encode_all(tokenizer, examples), strict=True):
        served = tokenizer.apply_chat_template(pipeline.prompt_messages(question), add_generation_prompt=True,
                                               tokenize=True, return_dict=True)["input_ids"]  # as sandbox.server.model
        first_target = next(i for i, label in enumerate(labels) if label != IGNORE)
        assert ids[:first_target] == list(served)


def test_as_prompt_few_shot_is_what_the_few_shot_pipeline_renders(ws, tmp_path, monkeypatch):
    from fakes import FakeEmbedder

    from sandbox.pipelines.few_shot import FewShotPipeline

    monkeypatch.setattr("sandbox.pipelines.base.get_embedder", lambda settings: FakeEmbedder())
    store = Store(tmp_path / "s.db")
    judged(store, "ticket 3 again?", "few-shot")
    export(store, "finetune", tmp_path / "ft.jsonl", workspace=ws, as_prompt="few-shot")
    expected = FewShotPipeline(ws, "tickets", Resources(ws, embedder=FakeEmbedder())).prompt_messages("ticket 3 again?")
    [row] = lines(tmp_path / "ft.jsonl")
    assert row["messages"][:-1] == expected and "fixed" in json.dumps(expected)  # its examples are in the prompt
