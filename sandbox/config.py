"""Workspace and settings.

A workspace is a folder with an optional ``sandbox.toml``, ``corpora/<dataset>/``,
``prompts/`` and state in ``.sandbox/``. Settings come from built-in defaults,
then ``sandbox.toml``, then ``SANDBOX_*`` environment variables (highest), e.g.
``SANDBOX_INDEX__CHROMA_URL=http://127.0.0.1:8000`` or
``SANDBOX_ENDPOINTS__OPENAI__MODEL=gpt-4o-mini`` (``__`` separates levels).
API keys are never read from files: an endpoint names the variable that holds it.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sandbox import PIPELINES
from sandbox.errors import ConfigError, DatasetNotFound
from sandbox.localmodel import BASE_MODEL_ID, model_id_for

CONFIG_FILE = "sandbox.toml"
STATE_DIR = ".sandbox"
LOCAL = "local"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EndpointConfig(_Section):
    base_url: str = Field(LOCAL, description='"local" = the built-in server, else an OpenAI-compatible URL')
    model: str = BASE_MODEL_ID
    api_key_env: str = Field("", description="name of the env var holding the key; the key never goes in a file")
    timeout_s: float = 60.0
    max_retries: int = 2
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0
    price_train_per_mtok: float = 0.0

    @property
    def is_local(self) -> bool:
        return self.base_url == LOCAL

    def api_key(self) -> str:
        """The key from the environment; local and keyless endpoints get a placeholder."""
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "")
            if not key:
                raise ConfigError(
                    f"Environment variable {self.api_key_env} is not set.",
                    f"export {self.api_key_env}=... (keys are read from the environment only).",
                )
            return key
        return "sk-no-key-needed"


class PipelineConfig(_Section):
    endpoint: str = LOCAL
    model: str = Field("", description="overrides the endpoint's model (fine-tuned: written by `sandbox finetune`)")
    k: int = Field(4, description="few-shot examples or RAG contexts per prompt")
    retriever: str = Field("", description='RAG: "module:factory" returning a langchain-core BaseRetriever; empty: the dataset\'s index')
    context: Literal["sentences", "chunks"] = Field(
        "sentences", description="RAG: the best sentences of the k chunks, or the chunks whole (sandbox.evidence)")
    sentences: int = Field(4, ge=1, description='RAG evidence sentences per prompt (context = "sentences")')
    max_tokens: int = 256
    temperature: float = 0.0

    @field_validator("retriever")
    @classmethod
    def _module_colon_factory(cls, spec: str) -> str:
        if spec and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", spec):
            raise ValueError('write it as "module:factory", e.g. "my_retriever:make_retriever"')
        return spec


class IndexConfig(_Section):
    chroma_url: str = Field("", description='empty: embedded Chroma in .sandbox/chroma; "http://host:8000": a server')
    namespace: str = Field("", description="on a Chroma server: collections' suffix; replicas on several hosts share one "
                                          "(empty: this workspace's path, so unrelated workspaces never mix)")
    embedding_model: str = Field("", description="sentence-transformers path or name; empty: bundled all-MiniLM-L6-v2")
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    max_file_mb: float = 20.0
    batch_size: int = 64


class StoreConfig(_Section):
    url: str = Field("", description='empty: SQLite in .sandbox/sandbox.db; "sqlite:///PATH" or "postgresql://USER@HOST:5432/DB"')
    password_env: str = Field("", description="name of the env var holding the database password; never in a file")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = 8700
    threads: int = 0  # 0: let torch decide
    precision: str = Field("bf16", description="local model weights: fp32, bf16 or int8 (see sandbox serve --help)")
    max_batch: int = Field(16, ge=1, description="requests decoded together (continuous batching); 1: one at a time")
    model: str = Field("", description="empty: the bundled SmolLM2-135M; else a .gguf file or an HF model folder")
    api_key_env: str = Field("", description="env var holding a bearer token `sandbox serve` requires; empty: no token (one-user machines)")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host headers accepted besides the bound host, localhost and 127.0.0.1 (app and server)")


class LimitsConfig(_Section):
    """Bounded work per input: each number caps what one question, upload or request may cost."""

    question_chars: int = Field(8000, ge=1, description="longest question accepted (app, API, CLI)")
    upload_mb: float = Field(20.0, gt=0, description="largest file the app accepts")
    request_mb: float = Field(100.0, gt=0, description="largest request body `sandbox serve` reads (/v1/files)")
    doc_uncompressed_mb: float = Field(20.0, gt=0, description="DOCX: XML inside the zip; PDF: extracted text")
    doc_pages: int = Field(2000, ge=1, description="PDF pages read per document")
    doc_paragraphs: int = Field(50_000, ge=1, description="DOCX paragraphs and table rows read per document")
    chunks_per_doc: int = Field(2000, ge=1, description="chunks indexed per document")
    problems_listed: int = Field(20, ge=1, description="problems listed per file before 'and N more'")


class EvalConfig(_Section):
    concurrency: int = 4
    judge_endpoint: str = Field("", description="endpoint name for LLM-as-judge; empty: no judge")


class AdvisorConfig(_Section):
    monthly_calls: int = Field(100_000, description="expected calls per month, for the cost break-even")


def _default_pipelines() -> dict[str, PipelineConfig]:
    return {name: PipelineConfig() for name in PIPELINES}


class DatasetConfig(_Section):
    fine_tuned_model: str = Field("", description="written by `sandbox finetune start DATASET`; used by the fine-tuned pipeline")
    auto_finetune: bool = Field(False, description="fine-tune without being asked when there is no model (`sandbox finetune --all`, `make demo`)")


class Settings(_Section):
    endpoints: dict[str, EndpointConfig] = Field(default_factory=lambda: {LOCAL: EndpointConfig()})
    pipelines: dict[str, PipelineConfig] = Field(default_factory=_default_pipelines)
    index: IndexConfig = Field(default_factory=IndexConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    advisor: AdvisorConfig = Field(default_factory=AdvisorConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    datasets: dict[str, DatasetConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keep_builtins(self) -> "Settings":
        """A file that defines one endpoint or pipeline keeps the built-in others."""
        self.endpoints.setdefault(LOCAL, EndpointConfig())
        local = self.endpoints[LOCAL]
        if self.server.model and local.is_local and "model" not in local.model_fields_set:
            local.model = model_id_for(self.server.model)  # the built-in server's model, by its served id
        for name in PIPELINES:
            self.pipelines.setdefault(name, PipelineConfig())
        return self

    def secrets(self) -> list[str]:
        """The values of every configured key variable that is set: what error text must never show."""
        names = [e.api_key_env for e in self.endpoints.values()] + [self.server.api_key_env]
        return [value for name in names if name and len(value := os.environ.get(name, "")) >= 4]

    def endpoint_for(self, pipeline: str) -> EndpointConfig:
        name = self.pipelines[pipeline].endpoint
        if name not in self.endpoints:
            raise ConfigError(
                f"Pipeline {pipeline!r} uses endpoint {name!r}, which is not defined.",
                f"Add an [endpoints.{name}] section to {CONFIG_FILE} or set [pipelines.{pipeline}] endpoint.",
            )
        return self.endpoints[name]

    def model_for(self, pipeline: str, dataset: str = "") -> str:
        """The model a pipeline calls; for fine-tuned, the dataset's own fine-tune wins."""
        if pipeline == "fine-tuned":
            tuned = self.datasets.get(dataset, DatasetConfig()).fine_tuned_model
            return tuned or self.pipelines[pipeline].model
        return self.pipelines[pipeline].model or self.endpoint_for(pipeline).model


class Workspace:
    """Paths of one workspace plus its settings, built once and passed down."""

    def __init__(self, root: Path, settings: Settings):
        self.root = root.resolve()
        self.settings = settings

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def state_dir(self) -> Path:
        path = self.root / STATE_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def db_path(self) -> Path:
        return self.state_dir / "sandbox.db"

    @property
    def chroma_dir(self) -> Path:
        return self.state_dir / "chroma"

    @property
    def corpora_dir(self) -> Path:
        return self.root / "corpora"

    @property
    def prompts_dir(self) -> Path:
        return self.root / "prompts"

    def datasets(self) -> list[str]:
        if not self.corpora_dir.is_dir():
            return []
        return sorted(p.name for p in self.corpora_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def dataset_dir(self, name: str | None = None) -> Path:
        """The folder of a dataset; with no name, the only (or first) one.

        The one place a dataset name becomes a path: the name must be one of ``datasets()``, so a
        separator, ``..`` or an absolute path never reaches the file system, and the error names
        only the workspace's datasets (nothing about which folders exist elsewhere)."""
        names = self.datasets()
        if name is None:
            if not names:
                raise DatasetNotFound("This workspace has no datasets yet.", "Create one with `sandbox init DIR --docs PATH` or in the app's Data tab.")
            name = names[0]
        if name not in names:
            shown = name if len(name) <= 64 and name.isprintable() else name[:64].encode("unicode_escape").decode() + "..."
            raise DatasetNotFound(
                f"Dataset {shown!r} not found.",
                f"Available: {', '.join(names) or 'none'}. A dataset is given by its name, never a path.",
            )
        return self.corpora_dir / name


def set_value(workspace: Workspace, dotted_key: list[str], value: Any) -> None:
    """Write one setting into sandbox.toml, keeping the user's comments and layout."""
    import tomlkit

    path = workspace.config_path
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    node = doc
    for part in dotted_key[:-1]:
        if part not in node:
            node[part] = tomlkit.table(is_super_table=True) if part in ("datasets", "pipelines", "endpoints") else tomlkit.table()
        node = node[part]
    node[dotted_key[-1]] = value
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    workspace.settings = load_workspace(workspace.root).settings


def workspace_root(workspace: "Workspace | str | Path") -> Path:
    """The folder of a Workspace, or the path itself (a Path has its own, unrelated ``.root``)."""
    return Path(workspace) if isinstance(workspace, (str, Path)) else Path(workspace.root)


def local_model_path(workspace: "Workspace | str | Path") -> Path | None:
    """The ``[server] model`` file or folder (relative paths: from the workspace); None: the bundled model."""
    server = getattr(getattr(workspace, "settings", None), "server", None)
    if not getattr(server, "model", ""):
        return None
    return workspace_root(workspace) / Path(server.model).expanduser()


def cache_dir() -> Path:
    """Machine-wide cache (converted model weights, adapters), shared by workspaces."""
    path = Path(os.environ.get("SANDBOX_CACHE_DIR") or Path.home() / ".cache" / "sandbox")
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_workspace(explicit: str | Path | None = None) -> Path:
    """--workspace, else $SANDBOX_WORKSPACE, else the nearest parent with sandbox.toml or corpora/."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("SANDBOX_WORKSPACE"):
        return Path(env)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() or (folder / "corpora").is_dir():
            return folder
    return here


def load_workspace(explicit: str | Path | None = None, env: dict[str, str] | None = None) -> Workspace:
    root = find_workspace(explicit)
    if not root.is_dir():
        raise ConfigError(f"Workspace {root} does not exist.", f"Create it with `sandbox init {root}`.")
    path = root / CONFIG_FILE
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    data = _parse_toml(path, text)
    _merge(data, _env_overrides(os.environ if env is None else env))
    return Workspace(root, _validate(path, text, data))


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML: {exc}", "Fix the syntax at that line (strings need quotes, tables [like.this])."
        ) from exc


def _env_overrides(env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith("SANDBOX_") or "__" not in key:
            continue
        parts = [p.lower() for p in key.removeprefix("SANDBOX_").split("__")]
        if parts[0] == "pipelines" and len(parts) > 1:
            parts[1] = parts[1].replace("_", "-")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _validate(path: Path, text: str, data: dict[str, Any]) -> Settings:
    for name in data.get("pipelines", {}) or {}:
        if name not in PIPELINES:
            line = _line_of(text, name)
            raise ConfigError(
                f"{path}{line}: unknown pipeline [pipelines.{name}].", f"Pipelines are: {', '.join(PIPELINES)}."
            )
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        line = _line_of(text, str(err["loc"][-1]))
        if err["type"] == "extra_forbidden":
            section = ".".join(str(p) for p in err["loc"][:-1]) or "top level"
            allowed = _allowed_keys(err["loc"][:-1])
            raise ConfigError(
                f"{path}{line}: unknown key {key!r} in [{section}].",
                f"Remove it or use one of: {', '.join(allowed)}." if allowed else "Remove it.",
            ) from exc
        raise ConfigError(f"{path}{line}: {key}: {err['msg']} (got {err.get('input')!r}).", "Fix the value.") from exc
    for name, pipeline in settings.pipelines.items():
        settings.endpoint_for(name)  # undefined endpoint names fail now, not mid-demo
    return settings


def _allowed_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = Settings
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            continue  # a dict key such as an endpoint name
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = args[-1] if args else annotation
    return sorted(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _line_of(text: str, key: str) -> str:
    """', line N' of the first line defining ``key`` (as a key or a table name), or ''."""
    pattern = re.compile(rf"^\s*(\[[^\]]*\b{re.escape(key)}\b[^\]]*\]|\"?{re.escape(key)}\"?\s*=)", re.M)
    match = pattern.search(text)
    return f", line {text.count(chr(10), 0, match.start()) + 1}" if match else ""
