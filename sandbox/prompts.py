"""Prompt files (``prompts/*.yaml``) → langchain-core chat templates, rendered strictly.

A workspace's ``prompts/NAME.yaml`` wins; without it the default shipped in
``sandbox/default_prompts/`` is used. A file lists ``messages`` as ``- ROLE: template`` items
(roles system, user/human, assistant/ai) plus, for few-shot, an ``- examples`` marker and an
``example`` pair template. Variables are checked both ways against what the pipeline supplies:
a variable the pipeline does not know, or a required one the file never uses, is an error that
names the file, the line and the variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.errors import DataError

ROLES = {"system": "system", "user": "human", "human": "human", "assistant": "ai", "ai": "ai"}
OPENAI_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
EXAMPLES_MARKER = "examples"
EXAMPLE_VARIABLES = {"input", "output"}


@dataclass(frozen=True)
class PromptSpec:
    """What a pipeline supplies to its prompt: variables it must use and may use."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    examples: bool = False

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional


SPECS = {
    "few_shot": PromptSpec(frozenset({"question"}), frozenset({"instruction"}), examples=True),
    "rag": PromptSpec(frozenset({"question", "context"}), frozenset({"instruction"})),
    "fine_tuned": PromptSpec(frozenset({"question"}), frozenset({"instruction"})),
    "judge": PromptSpec(frozenset({"question", "answers"}), frozenset({"reference", "labels"})),  # sandbox.evaluate
}


def default_prompts_dir() -> Path:
    """The prompts shipped with the package (used when a workspace has no prompts/NAME.yaml)."""
    return Path(__file__).resolve().parent / "default_prompts"


def prompt_path(prompts_dir: Path | None, name: str) -> Path:
    if prompts_dir is not None and (prompts_dir / f"{name}.yaml").is_file():
        return prompts_dir / f"{name}.yaml"
    return default_prompts_dir() / f"{name}.yaml"


@dataclass
class Prompt:
    """A parsed, checked prompt file; ``render`` gives OpenAI chat messages."""

    name: str
    path: Path
    messages: list[tuple[str, str] | str]  # (role, template) or the examples marker
    example: list[tuple[str, str]]

    def render(self, variables: dict[str, str], examples: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
        from langchain_core.prompts import ChatPromptTemplate, FewShotChatMessagePromptTemplate

        parts: list[Any] = []
        for item in self.messages:
            if item == EXAMPLES_MARKER:
                example_prompt = ChatPromptTemplate.from_messages(self.example)
                parts.append(FewShotChatMessagePromptTemplate(examples=examples or [], example_prompt=example_prompt))
            else:
                parts.append(item)
        template = ChatPromptTemplate.from_messages(parts)
        out = []
        for message in template.format_messages(**variables):
            content = str(message.content).strip()
            if content:  # e.g. a system message that is only an empty {instruction}
                out.append({"role": OPENAI_ROLES[message.type], "content": content})
        return out


_CACHE: dict[tuple[str, int, int], Prompt] = {}


def load_prompt(prompts_dir: Path | None, name: str) -> Prompt:
    """The checked prompt ``name`` (few_shot, rag, fine_tuned); re-read when the file changes."""
    path = prompt_path(prompts_dir, name)
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        _CACHE[key] = _parse(name, path, SPECS[name])
    return _CACHE[key]


def _parse(name: str, path: Path, spec: PromptSpec) -> Prompt:
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(path, f"invalid YAML: {getattr(exc, 'problem', exc)}", "Fix the indentation or quoting there.",
                        line=mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise DataError(path, "needs a 'messages:' list of '- system: ...' / '- user: ...' items.", _see_default(name))
    messages = [_item(path, name, item, allow_marker=spec.examples) for item in data["messages"]]
    example = [_item(path, name, item, allow_marker=False) for item in data.get("example") or []]
    if spec.examples and (EXAMPLES_MARKER not in messages or not example):
        raise DataError(path, "a few-shot prompt needs an '- examples' item in messages and an 'example:' list "
                              "with {input} and {output}.", _see_default(name))
    _check_variables(path, text, name, [t for t in messages if t != EXAMPLES_MARKER], spec.allowed, spec.required)
    if example:
        _check_variables(path, text, name, example, EXAMPLE_VARIABLES, EXAMPLE_VARIABLES, where="example")
    return Prompt(name=name, path=path, messages=messages, example=example)


def _item(path: Path, name: str, item: Any, *, allow_marker: bool) -> tuple[str, str] | str:
    if item == EXAMPLES_MARKER and allow_marker:
        return item
    if isinstance(item, dict) and len(item) == 1:
        role, template = next(iter(item.items()))
        if role in ROLES and isinstance(template, str):
            return (ROLES[role], template)
    raise DataError(path, f"bad message item {item!r}: use '- system: TEXT', '- user: TEXT' or '- assistant: TEXT'"
                          + (" (and '- examples')." if allow_marker else "."), _see_default(name))


def _variables(path: Path, text: str, template: str) -> set[str]:
    from langchain_core.utils.formatting import formatter

    try:
        return {field for _, field, _, _ in formatter.parse(template) if field is not None}
    except ValueError as exc:
        raise DataError(path, f"bad braces in {template[:60]!r}: {exc}.",
                        "Variables look like {question}; write literal braces as {{ and }}.",
                        line=_line_of(text, template.strip().splitlines()[0] if template.strip() else template)) from exc


def _check_variables(path: Path, text: str, name: str, items: list, allowed: frozenset[str] | set[str],
                     required: frozenset[str] | set[str], where: str = "messages") -> None:
    used: set[str] = set()
    for _, template in items:
        used |= _variables(path, text, template)
    for var in sorted(used - allowed):
        raise DataError(path, f"unknown variable {{{var}}} in {where}.",
                        f"Available here: {', '.join('{%s}' % v for v in sorted(allowed))}. "
                        "Write literal braces as {{ and }}.", line=_line_of(text, "{" + var + "}"))
    for var in sorted(required - used):
        raise DataError(path, f"{where} never use the variable {{{var}}}, so the model would not see it.",
                        f"Add {{{var}}} where it belongs. {_see_default(name)}")


def _line_of(text: str, needle: str) -> int | None:
    """First non-comment line containing ``needle`` (the comments document the variables)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line and not line.lstrip().startswith("#"):
            return number
    return None


def _see_default(name: str) -> str:
    return f"See the default in {default_prompts_dir() / (name + '.yaml')}."


def format_contexts(contexts: list[Any]) -> str:
    """Number retrieved chunks for the prompt: ``[1] (source) text``, one per paragraph."""
    return "\n\n".join(f"[{i}] ({c.source}) {_one_line(c.text)}" for i, c in enumerate(contexts, start=1))


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text.strip())
