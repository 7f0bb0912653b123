"""Export a local fine-tune: the PEFT adapter, a merged HF folder, and a vLLM serving recipe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sandbox.errors import FineTuneError
from sandbox.finetune.state import JobStore, model_dirname
from sandbox.localmodel.weights import model_folder

README = """# {model}

Fine-tuned from {base} with LoRA by `sandbox finetune` (job {job}).

- `adapter/`: the PEFT LoRA adapter (small; needs the base model).
- `merged/`: base + adapter merged (`merge_and_unload`), a plain Hugging Face model folder.

## Serve with vLLM as the fine-tuned endpoint

Adapter on top of the base (the base folder is `merged/`'s sibling you pass to vLLM; any copy of
{base} works, e.g. the folder sandbox loads it from, `{base_dir}`):

    vllm serve {base_dir} --served-model-name {base} \\
        --enable-lora --lora-modules {name}={adapter} --max-lora-rank {rank} --port 8000

or the merged model alone:

    vllm serve {merged} --served-model-name {name} --port 8000

Then point the fine-tuned pipeline at it in sandbox.toml:

    [endpoints.vllm]
    base_url = "http://127.0.0.1:8000/v1"
    model = "{name}"

    [pipelines.fine-tuned]
    endpoint = "vllm"
    model = "{name}"
"""


def find_adapter(workspace, ref: str) -> tuple[Path, dict]:
    """The adapter folder and model.json of a job id or fine-tuned model id."""
    jobs = JobStore(workspace.state_dir)
    model = ref
    if ref.startswith("ftjob-"):
        job = jobs.get(ref)
        if job is None or not job.fine_tuned_model:
            raise FineTuneError(f"Job {ref} has no fine-tuned model (yet).", "Check it with `sandbox finetune status JOB`.")
        model = job.fine_tuned_model
    folder = jobs.models_dir / model_dirname(model)
    if not (folder / "model.json").is_file():
        known = sorted(p.name for p in jobs.models_dir.glob("*") if (p / "model.json").is_file()) if jobs.models_dir.is_dir() else []
        raise FineTuneError(f"No local fine-tuned model {model!r}.", f"Known: {', '.join(known) or 'none'}. Pass a job id or model id.")
    return folder, json.loads((folder / "model.json").read_text(encoding="utf-8"))


def export_adapter(workspace, ref: str, out: Path) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, meta = find_adapter(workspace, ref)
    out = Path(out)
    adapter, merged = out / "adapter", out / "merged"
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(adapter, ignore_errors=True)
    shutil.copytree(folder, adapter)
    base_dir = model_folder(meta.get("base_path"))  # the base it was trained on (None: the bundled one)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, folder).merge_and_unload()
    model.save_pretrained(merged)
    AutoTokenizer.from_pretrained(folder).save_pretrained(merged)
    rank = json.loads((folder / "adapter_config.json").read_text())["r"]
    name = meta["id"].replace(":", "-")
    (out / "README.md").write_text(README.format(model=meta["id"], base=meta.get("base", ""), job=meta.get("job", "?"),
                                                 base_dir=base_dir, name=name, adapter=adapter.resolve(),
                                                 merged=merged.resolve(), rank=max(8, rank)), encoding="utf-8")
    return {"model": meta["id"], "adapter": str(adapter), "merged": str(merged), "readme": str(out / "README.md")}
