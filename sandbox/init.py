"""`sandbox init`: a new workspace for a team's own documents, examples and questions.

Layout created::

    DIR/sandbox.toml                    every setting, commented out at its default
    DIR/prompts/*.yaml                  the packaged default prompts, to edit
    DIR/corpora/NAME/docs/              copies of (or a symlink to) the documents
    DIR/corpora/NAME/examples.jsonl     input→output pairs (or examples.csv)
    DIR/corpora/NAME/questions.jsonl    held-out questions
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from pydantic import BaseModel

from sandbox.config import CONFIG_FILE
from sandbox.datasets import dataset_name, place_documents, place_examples
from sandbox.errors import ConfigError, DataError
from sandbox.examples import load_examples
from sandbox.files import atomic_copy
from sandbox.prompts import default_prompts_dir
from sandbox.questions import load_questions

CONFIG_TEMPLATE = '''# sandbox settings for this workspace. Every key is optional: the values shown
# commented out are the built-in defaults. Uncomment a line to change it.
# Environment variables override this file: SANDBOX_SECTION__KEY, e.g.
#   SANDBOX_INDEX__CHROMA_URL=http://127.0.0.1:8000   SANDBOX_PIPELINES__RAG__ENDPOINT=openai

# ---------------------------------------------------------------- endpoints
# An endpoint is any OpenAI-compatible chat API. "local" is the built-in server
# (SmolLM2-135M-Instruct on the CPU), started in-process on demand or with `sandbox serve`.
[endpoints.local]
base_url = "local"
model = "smollm2-135m-instruct"
# timeout_s = 60
# max_retries = 2

# OpenAI (or any hosted OpenAI-compatible API: Together, a vLLM/Ollama/llama.cpp server...).
# The API key is read from the environment variable named by api_key_env; it never goes
# in a file: `export OPENAI_API_KEY=sk-...` before running sandbox.
# [endpoints.openai]
# base_url = "https://api.openai.com/v1"
# api_key_env = "OPENAI_API_KEY"
# model = "gpt-4o-mini"
# timeout_s = 60
# max_retries = 2
# price_in_per_mtok = 0.15          # USD per 1M prompt tokens, for cost figures
# price_out_per_mtok = 0.60         # USD per 1M completion tokens
# price_train_per_mtok = 3.00       # USD per 1M training tokens, for fine-tuning estimates

# A self-hosted vLLM server with LoRA adapters (vllm serve BASE --enable-lora ...):
# [endpoints.vllm]
# base_url = "http://127.0.0.1:8000/v1"
# model = "my-base-model"

# ---------------------------------------------------------------- pipelines
# Each pipeline (few-shot, rag, fine-tuned) calls one endpoint; `model` overrides its model.
# [pipelines.few-shot]
# endpoint = "local"
# k = 4                             # examples shown in the prompt
# max_tokens = 256
# temperature = 0.0

# [pipelines.rag]
# endpoint = "local"
# k = 4                             # retrieved contexts in the prompt
# retriever = ""                    # "module:factory": your own LangChain retriever instead of the index (README)

# [pipelines.fine-tuned]
# endpoint = "local"
# model = ""                        # e.g. "ft:gpt-4o-mini:acme::abc123"; `sandbox finetune` writes it per dataset

# ---------------------------------------------------------------- index (RAG retrieval)
# [index]
# chroma_url = ""                   # empty: embedded Chroma in .sandbox/chroma; "http://127.0.0.1:8000": a `chroma run` server
# namespace = ""                   # with chroma_url: the same name on every replica shares one index (empty: per folder)
# embedding_model = ""              # a local sentence-transformers folder; empty: the bundled all-MiniLM-L6-v2
# chunk_tokens = 200                # chunk size in the embedding model's tokens
# chunk_overlap = 40                # tokens repeated between consecutive chunks
# max_file_mb = 20.0                # larger files are skipped (and reported)
# batch_size = 64                   # embedding batch size

# ---------------------------------------------------------------- store (runs, judgments, evals)
# [store]
# url = ""                          # empty: SQLite in .sandbox/sandbox.db; "postgresql://USER@HOST:5432/DB" for a team
# password_env = ""                 # name of the env var holding the database password (never put it here)

# ---------------------------------------------------------------- local server
# [server]
# host = "127.0.0.1"
# port = 8700
# threads = 0                       # 0: let torch decide
# api_key_env = ""                  # env var whose value `sandbox serve` requires as bearer token; empty: none (one-user machines)
# allowed_hosts = []                # Host names accepted besides the bound host, localhost, 127.0.0.1 (app and server)

# ---------------------------------------------------------------- limits (work one input may cost)
# [limits]
# question_chars = 8000
# upload_mb = 20.0                  # largest file the app accepts
# request_mb = 100.0                # largest request body `sandbox serve` reads (/v1/files)
# doc_uncompressed_mb = 20.0        # DOCX: XML inside the zip; PDF: extracted text
# doc_pages = 2000                  # PDF pages
# doc_paragraphs = 50000            # DOCX paragraphs and table rows
# chunks_per_doc = 2000
# problems_listed = 20              # problems listed per uploaded file, then "and N more"

# ---------------------------------------------------------------- evaluation and advice
# [eval]
# concurrency = 4
# judge_endpoint = ""               # an endpoint name for LLM-as-judge; empty: no judge

# [advisor]
# monthly_calls = 100000            # expected calls per month, for the cost break-even

# `sandbox finetune start DATASET` records each dataset's fine-tuned model here, e.g.
# [datasets.{name}]
# fine_tuned_model = "ft:..."
'''


class InitReport(BaseModel):
    workspace: str
    dataset: str
    documents: int
    linked: bool
    examples: Optional[str] = None
    questions: Optional[str] = None
    prompts: list[str] = []
    next_steps: list[str] = []


def _check_sources(docs: Optional[Path], examples: Optional[Path], questions: Optional[Path]) -> None:
    """Validate inputs before anything is written, so a typo never leaves half a workspace."""
    if docs is not None and not docs.exists():
        raise DataError(docs, "does not exist.", "Pass --docs a folder of documents (or one file).")
    if examples is not None:
        if not examples.is_file():
            raise DataError(examples, "does not exist.", "Pass --examples a JSONL or CSV file of input→output pairs.")
        load_examples(examples)  # raises DataError naming the file and line
    if questions is not None:
        if not questions.is_file():
            raise DataError(questions, "does not exist.", 'Pass --questions a JSONL file of {"id", "question", ...} lines.')
        load_questions(questions)


def _copy_prompts(root: Path) -> list[str]:
    folder = default_prompts_dir()
    if not folder.is_dir():
        return []
    dest = root / "prompts"
    dest.mkdir(exist_ok=True)
    copied = []
    for path in sorted(folder.glob("*.yaml")):
        if not (dest / path.name).exists():  # never overwrite prompts a team has edited
            shutil.copy2(path, dest / path.name)
        copied.append(path.name)
    return copied


def create_workspace(
    root: Path,
    docs: Optional[Path] = None,
    examples: Optional[Path] = None,
    questions: Optional[Path] = None,
    name: Optional[str] = None,
    link: bool = False,
    force: bool = False,
) -> InitReport:
    root = root.expanduser()
    name = dataset_name(name or root.resolve().name, default="docs")
    dataset = root / "corpora" / name
    existing = [p for p in (root / CONFIG_FILE, dataset) if p.exists() or p.is_symlink()]
    if existing and not force:
        raise ConfigError(
            f"{existing[0]} already exists; not overwriting a workspace.",
            "Pass --force to replace it, or choose another DIR or --name.",
        )
    _check_sources(docs, examples, questions)
    dataset.mkdir(parents=True, exist_ok=True)
    n_docs = place_documents(docs, dataset / "docs", link)
    report = InitReport(workspace=str(root), dataset=name, documents=n_docs, linked=link and docs is not None)
    if examples is not None:
        report.examples = str(place_examples(dataset, examples))
    if questions is not None:
        atomic_copy(questions, dataset / "questions.jsonl")
        report.questions = str(dataset / "questions.jsonl")
    report.prompts = _copy_prompts(root)
    (root / CONFIG_FILE).write_text(CONFIG_TEMPLATE.replace("{name}", name), encoding="utf-8")
    report.next_steps = _next_steps(root, name, report)
    return report


def _next_steps(root: Path, name: str, report: InitReport) -> list[str]:
    ws = f"cd {os.path.relpath(root)}" if root.resolve() != Path.cwd().resolve() else ""
    steps = [ws] if ws else []
    if not report.documents:
        steps.append(f"put your documents in corpora/{name}/docs/")
    steps += [f"sandbox index {name}", f'sandbox search "a question your documents answer" -d {name}']
    if report.examples:
        steps.append(f"sandbox check-data {name}")
    else:
        steps.append(f"add corpora/{name}/examples.jsonl (input→output pairs) for few-shot and fine-tuning")
    steps += [f'sandbox ask "..." -d {name}', "sandbox app"]
    return steps
