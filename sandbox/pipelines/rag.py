"""RAG: hybrid retrieval from the dataset's index, then a numbered context in the user turn.

``[pipelines.rag] context = "sentences"`` (the default) puts the best sentences of the k chunks in the
prompt (``sandbox.evidence``); ``"chunks"`` puts the chunks whole. Either way the context is numbered
with its sources, so an answer can cite ``[n]``; the prompt does not demand it (see prompts/rag.yaml).

With ``[pipelines.rag] retriever = "module:factory"`` the team's own langchain-core retriever replaces the
index (``sandbox.custom_retriever``); its documents become the same contexts.
"""

from __future__ import annotations

import contextlib

from sandbox import evidence as E
from sandbox.errors import IndexStateError
from sandbox.pipelines.base import Pipeline, PreparedChat
from sandbox.prompts import format_contexts
from sandbox.records import Context


class RagPipeline(Pipeline):
    name = "rag"
    prompt_name = "rag"
    settings_keys = ("context", "sentences", "retriever")

    def load(self) -> None:
        with self._index_hint():
            self.resources.retriever(self.dataset)

    def retrieve(self, question: str) -> list[Context]:
        with self._index_hint():
            hits = self.resources.retriever(self.dataset).search(question, self.config.k)
        return [Context(source=h.source, text=h.text, score=float(h.score), chunk_id=h.chunk_id) for h in hits]

    @contextlib.contextmanager
    def _index_hint(self):
        """An index problem's message always names the command that fixes it."""
        try:
            yield
        except IndexStateError as exc:
            fix = f"Run `sandbox index {self.dataset}`."
            raise IndexStateError(exc.message, exc.hint if f"sandbox index {self.dataset}" in exc.hint else f"{fix} {exc.hint}".strip()) from exc

    def prepare(self, question: str) -> PreparedChat:
        contexts = self.retrieve(question)
        if not contexts and self.config.retriever:
            raise IndexStateError(f"The retriever of [pipelines.rag] retriever = {self.config.retriever!r} found no "
                                  "documents for this question.", "Check what it searches, or ask about its content.")
        if not contexts:
            raise IndexStateError(
                f"The index of dataset {self.dataset!r} returned no contexts.",
                f"Add documents to corpora/{self.dataset}/docs/ and run `sandbox index {self.dataset}`.",
            )
        messages, evidence = self._render(question, contexts)
        return PreparedChat(messages=messages, model=self.model(), contexts=contexts, evidence=evidence)

    def prompt_messages(self, question: str, contexts: list[Context] | None = None) -> list[dict[str, str]]:
        return self._render(question, self.retrieve(question) if contexts is None else contexts)[0]

    def _render(self, question: str, contexts: list[Context]):
        evidence = []
        if self.config.context == "sentences":
            evidence = E.select(question, contexts, self.resources.embedder(), self.config.sentences)
        context = E.format_evidence(evidence) if evidence else format_contexts(contexts)
        variables = {"instruction": self.instruction(), "context": context, "question": question}
        return self.prompt().render(variables), evidence
