"""A LoRA adapter with random (non-zero) weights on the converted base, saved like a sandbox fine-tune."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.localmodel import BASE_MODEL_ID
from sandbox.localmodel.weights import converted_dir


def make_adapter(folder: Path, model_id: str, seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(converted_dir())
    config = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM")
    folder.mkdir(parents=True, exist_ok=True)
    get_peft_model(base, config).save_pretrained(folder)
    (folder / "model.json").write_text(json.dumps({"id": model_id, "created": 1700000000, "base": BASE_MODEL_ID}))
    return folder
