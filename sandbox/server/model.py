"""The real generator: SmolLM2-135M-Instruct (+ the workspace's LoRA adapters), concurrent requests batched.

``LocalModel`` is what the app calls; it implements the small ``Generator`` protocol that the app is
written against (tests inject a fake with the same three methods). Loading happens once, lazily or
in a background thread started by ``start_loading()`` so the first request waits only for what is left.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from sandbox.errors import ConfigError
from sandbox.localmodel import IMPORTING, model_id_for
from sandbox.localmodel.weights import model_folder
from sandbox.server import adapters as adapters_mod
from sandbox.server.batching import MAX_BATCH, Batcher
from sandbox.server.decode import Sequence
from sandbox.server.schemas import ChatParams, Completion, ModelCard, bad_request, model_not_found
from sandbox.server.shared_model import ModelGuard, adapter_rows, install_row_hooks
from sandbox.server.speed import quantize_int8

log = logging.getLogger("sandbox.server")

PRECISIONS = ("fp32", "bf16", "int8")
DEFAULT_PRECISION = "bf16"
DEFAULT_MAX_TOKENS = 1024  # when a request sets none; the context window caps it too


@dataclass
class Prepared:
    """A request turned into token ids, ready for the worker."""

    model: str
    prompt_ids: list[int]
    params: ChatParams
    max_new_tokens: int


class Generator(Protocol):
    def list_models(self) -> list[ModelCard]: ...
    def prepare(self, model: str, messages: list[dict[str, str]], params: ChatParams) -> Prepared: ...
    def run(self, prepared: Prepared, on_text: Callable[[str], None], cancelled: Callable[[], bool]) -> Completion: ...


class LocalModel:
    """Base model in the chosen precision, adapters through PEFT, concurrent requests batched."""

    def __init__(self, workspace_root: Path, precision: str = DEFAULT_PRECISION, threads: int = 0,
                 max_batch: int = MAX_BATCH, model_path: Path | None = None):
        if precision not in PRECISIONS:
            raise ConfigError(
                f"Unknown local model precision {precision!r}.",
                f"Use one of {', '.join(PRECISIONS)} (server.precision in sandbox.toml or --precision).",
            )
        self.workspace_root = Path(workspace_root)
        self.precision = precision
        self.threads = threads
        self.max_batch = max_batch
        self.model_path = model_path  # None: the bundled SmolLM2; else a .gguf file or an HF folder
        self.model_id = model_id_for(model_path)
        self.created = int(time.time())
        self.load_seconds: float | None = None
        self._lock = threading.Lock()  # guards loading
        self._tokenizer = None
        self._model = None  # the base, or a PeftModel wrapping it once an adapter is used
        self._adapters: dict[str, adapters_mod.Adapter] = {}
        self._loader: threading.Thread | None = None
        self._batcher: Batcher | None = None
        self._guard = ModelGuard()  # prefill threads and the decode step share the model; attaching excludes them
        self._load_error: BaseException | None = None

    # ---- loading -----------------------------------------------------------------------------

    def start_loading(self) -> None:
        """Load in a background thread now; requests arriving meanwhile wait for it."""
        if self._loader is None and self._model is None:
            self._loader = threading.Thread(target=self._background_load, name="sandbox-model-load", daemon=True)
            self._loader.start()

    def _background_load(self) -> None:
        try:
            self.load()
        except BaseException as exc:  # reported to the first request, which retries
            self._load_error = exc
            log.exception("loading the local model failed")

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self):
        with self._lock:
            if self._model is None:
                started = time.time()
                self._load()
                self.load_seconds = time.time() - started
        return self._model

    def _load(self) -> None:
        with IMPORTING:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = model_folder(self.model_path)
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        model.eval()
        from sandbox.server.row_exact import use_row_attention  # imports torch: loaded with the weights

        use_row_attention(model)
        if self.precision == "int8":
            model = quantize_int8(model)
        self._eos = {self._tokenizer.eos_token_id, *_as_list(model.generation_config.eos_token_id)} - {None}
        self._model = model
        self._batcher = Batcher(self._forward, self.max_batch, threads=self.threads)

    def tokenizer(self):
        self.load()
        return self._tokenizer

    # ---- models ------------------------------------------------------------------------------

    def list_models(self) -> list[ModelCard]:
        self._adapters = self._scan()
        base = ModelCard(id=self.model_id, created=self.created, owned_by="sandbox")
        return [base] + [ModelCard(id=a.id, created=a.created, owned_by="user") for a in self._adapters.values()]

    def _scan(self) -> dict[str, adapters_mod.Adapter]:
        found = adapters_mod.scan(self.workspace_root)
        return {k: a for k, a in found.items() if a.base in ("", self.model_id)}

    def _refuse_other_base(self, model: str) -> None:
        """A fine-tune of another base model exists: say so, rather than that it does not exist."""
        adapter = adapters_mod.scan(self.workspace_root).get(model)
        if adapter is not None:
            raise bad_request(
                f"The fine-tune {model!r} was trained on {adapter.base!r}, but this server serves {self.model_id!r}. "
                f"Serve {adapter.base!r} ([server] model in sandbox.toml, or sandbox serve --model), "
                f"or fine-tune again on {self.model_id!r}.", "model", "model_base_mismatch")

    def find(self, model: str) -> ModelCard | None:
        cards = {c.id: c for c in self.list_models()}  # rescans: new fine-tunes appear without restart
        return cards.get(model)

    # ---- generation --------------------------------------------------------------------------

    def prepare(self, model: str, messages: list[dict[str, str]], params: ChatParams) -> Prepared:
        if model != self.model_id and model not in self._adapters and self.find(model) is None:
            self._refuse_other_base(model)
            raise model_not_found(model, [c.id for c in self.list_models()])
        tokenizer = self.tokenizer()
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
        window = self._model.config.max_position_embeddings
        room = window - len(ids)
        if room < 1:
            raise bad_request(
                f"The messages take {len(ids)} tokens; the model's context window is {window}. Shorten them.",
                "messages",
                "context_length_exceeded",
            )
        wanted = params.max_tokens or DEFAULT_MAX_TOKENS
        if params.max_tokens and params.max_tokens > room:
            raise bad_request(
                f"max_tokens={params.max_tokens} plus the {len(ids)} prompt tokens exceeds the context window of {window}.",
                "max_tokens",
                "context_length_exceeded",
            )
        return Prepared(model=model, prompt_ids=list(ids), params=params, max_new_tokens=min(wanted, room))

    def run(self, prepared: Prepared, on_text: Callable[[str], None], cancelled: Callable[[], bool]) -> Completion:
        """Generate for one prepared request; blocks the calling thread while it shares the running batch."""
        self.load()
        adapter = None if prepared.model == self.model_id else prepared.model
        if adapter is not None and self.precision == "int8":
            raise bad_request("Fine-tuned adapters need precision fp32 or bf16 (int8 layers cannot take LoRA).", "model")
        seq = Sequence(prepared.prompt_ids, prepared.params, prepared.max_new_tokens, self._tokenizer, self._eos,
                       on_text, cancelled, adapter)
        return self._batcher.run(seq)

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.stop()

    def _forward(self, input_ids, position_ids, cache, adapters: list, **kwargs):
        """One forward pass for a batch whose rows may each use a different adapter (None: the base).

        Called by the decode step and by prefill threads at once; adapters first seen here are loaded first."""
        names = [self._peft_name(a) for a in adapters]
        with self._guard.shared():
            rows = [n or "__base__" for n in names] if hasattr(self._model, "peft_config") else None
            with adapter_rows(rows):
                return self._model(input_ids=input_ids, position_ids=position_ids, cache=cache, use_cache=True, **kwargs)

    def _peft_name(self, model_id: str | None) -> str | None:
        if model_id is None:
            return None
        adapter = self._adapters.get(model_id) or self._scan().get(model_id)
        if adapter is None:
            raise model_not_found(model_id, [c.id for c in self.list_models()])
        if adapter.peft_name not in getattr(self._model, "peft_config", {}):
            with self._guard.exclusive():
                if adapter.peft_name not in getattr(self._model, "peft_config", {}):  # another thread was first
                    self._attach(adapter)
        return adapter.peft_name

    def _attach(self, adapter: adapters_mod.Adapter) -> None:
        """Load a fine-tune's LoRA weights next to the others; batched rows pick theirs by name."""
        from peft import PeftModel

        from sandbox.server.row_exact import make_lora_row_exact  # imports torch

        if hasattr(self._model, "peft_config"):
            self._model.load_adapter(str(adapter.path), adapter_name=adapter.peft_name)
        else:
            self._model = PeftModel.from_pretrained(self._model, str(adapter.path), adapter_name=adapter.peft_name)
            self._model.eval()
        make_lora_row_exact(self._model)
        install_row_hooks(self._model)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
