"""Fine-tuned: the short prompt only (the examples' own system message, if any, plus the question).

The model learned the task from the examples, so no examples and no long instructions are sent:
that is where fine-tuning saves tokens on every call.
"""

from __future__ import annotations

from sandbox.errors import ConfigError
from sandbox.pipelines.base import Pipeline, PreparedChat
from sandbox.records import Context


class FineTunedPipeline(Pipeline):
    name = "fine-tuned"
    prompt_name = "fine_tuned"

    def prepare(self, question: str) -> PreparedChat:
        model = self.model()
        if not model:
            raise ConfigError(
                f"No fine-tuned model for dataset {self.dataset!r} yet.",
                f"Run `sandbox finetune start {self.dataset}` (trains locally and registers the model), or set "
                f"[datasets.{self.dataset}] fine_tuned_model in sandbox.toml to an existing model id.",
            )
        return PreparedChat(messages=self.prompt_messages(question), model=model)

    def prompt_messages(self, question: str, contexts: list[Context] | None = None) -> list[dict[str, str]]:
        return self.prompt().render({"instruction": self.instruction(), "question": question})
