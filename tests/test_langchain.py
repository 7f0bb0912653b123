"""LangChain interop: a team's own langchain-core retriever feeds the rag pipeline's contexts
(``[pipelines.rag] retriever = "module:factory"``), and any pipeline is a Runnable whose runs are
recorded like the app's. The retriever is a real InMemoryVectorStore; the endpoint a loopback server."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap

import pytest
from fakes import FakeEmbedder
from fakeserver import FakeServer, Reply
from langchain_core.runnables import RunnableLambda
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.config import load_workspace
from sandbox.errors import ConfigError, PipelineError
from sandbox.evaluate import eval_id, pipeline_config
from sandbox.pipelines import Resources, pipeline_class
from sandbox.runnable import PipelineRunnable
from sandbox.store import open_store

DOCS = {
    "leave.md": "Annual leave: every employee gets 28 days of paid leave per year. Book it in the HR portal.",
    "expenses.md": "Expenses: submit receipts within 30 days; travel is reimbursed at economy fares.",
    "security.md": "Security: laptops lock after 5 minutes; report a lost badge to the front desk.",
}

# The team's code, as it would sit next to sandbox.toml: its own vector store over the dataset's documents.
TEAM_MODULE = '''
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore

from fakes import BagOfWordsEmbeddings


def _store(workspace, dataset):
    store = InMemoryVectorStore(BagOfWordsEmbeddings())
    docs = sorted((workspace.dataset_dir(dataset) / "docs").glob("*.md"))
    store.add_documents([Document(page_content=p.read_text(), metadata={"source": p.name}, id=p.stem) for p in docs])
    return store


def make_retriever(workspace, dataset):
    return _store(workspace, dataset).as_retriever(search_kwargs={"k": 3})


class ScoredRetriever(BaseRetriever):
    store: InMemoryVectorStore

    def _get_relevant_documents(self, query, *, run_manager):
        return [Document(page_content=d.page_content, id=d.id, metadata={**d.metadata, "score": s})
                for d, s in self.store.similarity_search_with_score(query, k=3)]


def scored(workspace, dataset):
    return ScoredRetriever(store=_store(workspace, dataset))


def not_a_retriever(workspace, dataset):
    return ["leave.md"]
'''


@pytest.fixture(autouse=True)
def _forget_team_module(monkeypatch):
    """Each test imports the team's module afresh from its own workspace."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    sys.modules.pop("team_retriever", None)


def make_workspace(root, rag: str, extra: str = ""):
    docs = root / "corpora" / "handbook" / "docs"
    docs.mkdir(parents=True)
    for name, text in DOCS.items():
        (docs / name).write_text(text + "\n")
    (root / "team_retriever.py").write_text(TEAM_MODULE)
    (root / "sandbox.toml").write_text(extra + "[pipelines.rag]\n" + textwrap.dedent(rag))
    return load_workspace(root)


def prepare(ws, question):
    return pipeline_class("rag")(ws, "handbook", Resources(ws, embedder=FakeEmbedder())).prepare(question)


@pytest.mark.parametrize("context", ["sentences", "chunks"])
def test_retriever_documents_become_the_rag_contexts(tmp_path, context):
    ws = make_workspace(tmp_path / "ws", f'retriever = "team_retriever:make_retriever"\nk = 2\ncontext = "{context}"\nsentences = 1\n')
    prepared = prepare(ws, "How many days of paid leave per year?")
    assert [c.source for c in prepared.contexts][0] == "leave.md"
    assert len(prepared.contexts) == 2  # k caps what the retriever returns
    assert prepared.contexts[0].text == DOCS["leave.md"] + "\n" and prepared.contexts[0].chunk_id == "leave"
    prompt = "\n".join(m["content"] for m in prepared.messages)
    assert "28 days of paid leave per year" in prompt
    shown = prepared.evidence[0].source if context == "sentences" else prompt  # sentences: the source is shown, not sent
    assert "leave.md" in shown
    if context == "sentences":  # the same evidence builder as for index hits: the best sentence only
        assert [(e.source, e.text) for e in prepared.evidence] == [("leave.md", DOCS["leave.md"].split(". ")[0] + ".")]
        assert "HR portal" not in prompt
    else:
        assert prepared.evidence == [] and "HR portal" in prompt
    assert not (ws.root / ".sandbox" / "chroma").exists()  # the dataset's index is not used (nor needed)


def test_scores_come_from_document_metadata(tmp_path):
    ws = make_workspace(tmp_path / "ws", 'retriever = "team_retriever:scored"\n')
    contexts = prepare(ws, "report a lost badge").contexts
    assert contexts[0].source == "security.md"
    scores = [c.score for c in contexts]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1] and scores[0] != 0.0


def test_search_shows_what_the_team_retriever_finds(tmp_path):
    ws = make_workspace(tmp_path / "ws", 'retriever = "team_retriever:scored"\n')
    result = CliRunner().invoke(app, ["-w", str(ws.root), "search", "report a lost badge", "-d", "handbook", "-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)["hits"]
    assert [h["source"] for h in hits][0] == "security.md" and len(hits) == 2 and hits[0]["chunk_id"] == "security"


def test_an_eval_with_another_retriever_is_another_eval(tmp_path):
    ws = make_workspace(tmp_path / "ws", 'retriever = "team_retriever:make_retriever"\n')
    with_team = eval_id(pipeline_config(ws, "handbook", "rag"))
    ws.settings.pipelines["rag"].retriever = ""
    assert eval_id(pipeline_config(ws, "handbook", "rag")) != with_team  # a resumed eval never mixes the two


@pytest.mark.parametrize("spec, says", [
    ("no_such_module:make", "cannot import 'no_such_module'"),
    ("team_retriever:missing", "has no function 'missing'"),
    ("team_retriever:not_a_retriever", "returned a list, not a langchain-core BaseRetriever"),
])
def test_a_broken_setting_names_itself(tmp_path, spec, says):
    ws = make_workspace(tmp_path / "ws", f'retriever = "{spec}"\n')
    with pytest.raises(ConfigError) as err:
        prepare(ws, "leave")
    assert "[pipelines.rag] retriever" in err.value.message and says in err.value.message
    assert err.value.hint


def test_a_malformed_setting_fails_when_the_workspace_loads(tmp_path):
    with pytest.raises(ConfigError, match=r"sandbox.toml, line 2: pipelines.rag.retriever.*\"module:factory\""):
        make_workspace(tmp_path / "ws", 'retriever = "team_retriever"\n')


@pytest.fixture
def server():
    with FakeServer(lambda body: Reply("You get 28 days of paid leave [1].")) as started:
        yield started


def endpoint_workspace(tmp_path, server, retries: int = 1):
    endpoint = (f'[endpoints.team]\nbase_url = "{server.base_url}"\nmodel = "team-model"\n'
                f"max_retries = {retries}\ntimeout_s = 5\n")
    return make_workspace(tmp_path / "ws", 'retriever = "team_retriever:make_retriever"\nendpoint = "team"\n', endpoint)


def runnable(ws, **kwargs):
    return PipelineRunnable("rag", ws, "handbook", resources=Resources(ws, embedder=FakeEmbedder()), **kwargs)


def test_runnable_answers_and_records_the_run(tmp_path, server):
    ws = endpoint_workspace(tmp_path, server)
    answer = runnable(ws).invoke("How many days of paid leave per year?")
    assert answer == "You get 28 days of paid leave [1]."
    [run] = open_store(ws).runs(origin="langchain")
    assert (run.pipeline, run.dataset, run.response, run.error) == ("rag", "handbook", answer, None)
    assert run.user_input == "How many days of paid leave per year?" and run.model == "team-model"
    assert run.contexts[0].source == "leave.md"  # the team's retriever fed the recorded prompt
    assert "28 days of paid leave per year" in " ".join(m["content"] for m in server.requests[0]["messages"])


def test_runnable_streams_batches_and_composes(tmp_path, server):
    ws = endpoint_workspace(tmp_path, server)
    rag = runnable(ws)
    pieces = list(rag.stream("How many days of leave?"))
    assert len(pieces) > 1 and "".join(pieces) == "You get 28 days of paid leave [1]."
    assert rag.batch(["leave days?", "expenses deadline?"]) == ["You get 28 days of paid leave [1]."] * 2
    assert asyncio.run(rag.ainvoke({"question": "leave?", "reference": "28 days"})) == "".join(pieces)
    chain = RunnableLambda(lambda ticket: {"question": ticket["subject"], "question_id": ticket["id"]}) | rag
    assert chain.invoke({"subject": "paid leave?", "id": "T-7"}).startswith("You get 28 days")
    runs = open_store(ws).runs(origin="langchain")
    assert len(runs) == 5
    assert {r.reference for r in runs} == {None, "28 days"} and "T-7" in {r.question_id for r in runs}


def test_runnable_async_from_a_running_loop(tmp_path, server):
    ws = endpoint_workspace(tmp_path, server)
    rag = runnable(ws)

    async def in_a_notebook():  # a loop is running: both faces still work
        return await rag.ainvoke("leave?"), rag.invoke("leave?")

    assert asyncio.run(in_a_notebook()) == ("You get 28 days of paid leave [1].",) * 2


def test_a_failed_run_is_recorded_and_raised(tmp_path):
    with FakeServer(Reply(status=500)) as down:
        ws = endpoint_workspace(tmp_path, down, retries=0)
        with pytest.raises(PipelineError, match="rag pipeline failed") as err:
            runnable(ws).invoke("leave?")
    run = open_store(ws).get_run(err.value.run_id)
    assert run is not None and run.origin == "langchain" and "500" in run.error


def test_record_false_keeps_the_store_empty(tmp_path, server):
    ws = endpoint_workspace(tmp_path, server)
    assert runnable(ws, record=False).invoke("leave?").startswith("You get")
    assert open_store(ws).runs(origin="langchain") == []


def test_bad_input_says_what_to_pass(tmp_path, server):
    with pytest.raises(ConfigError, match='dict with "question"'):
        runnable(endpoint_workspace(tmp_path, server)).invoke(42)
