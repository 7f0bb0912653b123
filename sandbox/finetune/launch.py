"""Start a fine-tune from a dataset: preflight, split, upload, create (shared by CLI and UI)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from sandbox.config import EndpointConfig, local_model_path, set_value
from sandbox.errors import FineTuneError
from sandbox.examples import dataset_examples, parse_examples
from sandbox.finetune import client as ft
from sandbox.finetune.preflight import preflight, render
from sandbox.finetune.split import split_examples, split_store, to_jsonl
from sandbox.localmodel.tokenizer import load_tokenizer

OPENAI_DEFAULT = {"base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY",
                  "model": "gpt-4o-mini-2024-07-18", "price_train_per_mtok": 3.0}


class Launched(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    job: object
    client: object
    report: object
    dataset: str | None
    n_train: int
    n_validation: int


def resolve_data(ws, target: str | None) -> tuple[Path, str | None, Path | None]:
    """(examples file, dataset name or None, questions file or None) for a DATASET or FILE."""
    if target and Path(target).is_file():
        path = Path(target)
        questions = path.parent / "questions.jsonl"
        return path, None, questions if questions.is_file() else None
    folder = ws.dataset_dir(target)
    path = dataset_examples(folder)
    if path is None:
        raise FineTuneError(f"Dataset {folder.name!r} has no examples.jsonl or examples.csv.",
                            f"Add input→output pairs to {folder}/examples.jsonl (check them with `sandbox check-data`).")
    return path, folder.name, folder / "questions.jsonl"


def endpoint_name(ws, provider: str, endpoint: str | None = None) -> str:
    """The endpoint to fine-tune on; ``openai`` works without a sandbox.toml section."""
    name = endpoint or provider
    if name == "openai" and name not in ws.settings.endpoints:
        ws.settings.endpoints[name] = EndpointConfig(**OPENAI_DEFAULT)
    return name


def run_preflight(ws, target: str | None, endpoint: str = "local", epochs: int = 3):
    """Preflight a dataset's examples; tokens are counted with the local base model's tokenizer ([server] model)."""
    path, dataset, questions = resolve_data(ws, target)
    price = ws.settings.endpoints[endpoint].price_train_per_mtok if endpoint in ws.settings.endpoints else 0.0
    report = preflight(path, questions=questions, epochs=epochs, price_train_per_mtok=price,
                       tokenizer=load_tokenizer(local_model_path(ws)),
                       split_path=split_store(ws.state_dir, dataset or path.stem))
    return report, path, dataset


def launch(ws, target: str | None, endpoint: str = "local", *, epochs: int | None = None, batch_size: int | None = None,
           lr_multiplier: float | None = None, suffix: str | None = None, metadata: dict[str, str] | None = None) -> Launched:
    """Preflight (errors abort before anything is uploaded), upload train + validation, create the job."""
    report, path, dataset = run_preflight(ws, target, endpoint, epochs or 3)
    if not report.ok:
        raise FineTuneError(f"{path} has {len(report.errors)} error(s); nothing was uploaded.\n{render(report)}",
                            "Fix the lines listed and run again (`sandbox check-data` shows the same report).")
    stem = dataset or path.stem
    split = split_examples(parse_examples(path)[0], split_store(ws.state_dir, stem))
    client = ft.make_client(ws, endpoint)
    train_id = ft.upload(client, to_jsonl(split.train), f"{stem}-train.jsonl")
    valid_id = ft.upload(client, to_jsonl(split.validation), f"{stem}-validation.jsonl") if split.validation else None
    job = ft.create(client, model=ws.settings.endpoints[endpoint].model, training_file=train_id, validation_file=valid_id,
                    n_epochs=epochs, batch_size=batch_size, learning_rate_multiplier=lr_multiplier,
                    suffix=_suffix(suffix or stem), metadata=metadata or ({"dataset": dataset} if dataset else None))
    return Launched(job=job, client=client, report=report, dataset=dataset, n_train=len(split.train),
                    n_validation=len(split.validation))


def register(ws, dataset: str | None, job) -> bool:
    """Make a succeeded job's model the fine-tuned pipeline's model for its dataset."""
    if job.status != "succeeded" or not dataset or not job.fine_tuned_model:
        return False
    if ws.settings.datasets.get(dataset) and ws.settings.datasets[dataset].fine_tuned_model == job.fine_tuned_model:
        return True
    set_value(ws, ["datasets", dataset, "fine_tuned_model"], job.fine_tuned_model)
    return True


def _suffix(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:40]
