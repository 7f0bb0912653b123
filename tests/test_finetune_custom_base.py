"""Fine-tunes of a custom `[server] model`: the job trains that base (a tiny model folder at another path, so the
worker is quick), records it, names its model after it, and a server of another base refuses the adapter by name."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
from test_finetune_api import client_for, examples, kill_workers, wait_for

from sandbox.config import load_workspace
from sandbox.errors import ConfigError
from sandbox.finetune.launch import run_preflight
from sandbox.finetune.preflight import preflight
from sandbox.localmodel import BASE_MODEL_ID
from sandbox.localmodel.tokenizer import load_tokenizer
from sandbox.localserver import start_local_server
from sandbox.server.app import default_generator
from sandbox.server.model import LocalModel
from sandbox.server.schemas import APIError, ChatParams

pytestmark = pytest.mark.integration


def tiny_model(folder: Path, new_tokens: tuple[str, ...] = ()) -> Path:
    """A 2-layer Llama with random weights and the bundled tokenizer (chat template included, plus ``new_tokens``):
    a small HF folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from sandbox.localmodel.tokenizer import tokenizer_dir

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir())
    tokenizer.add_tokens(list(new_tokens))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_fine_tunes_train_on_and_are_served_over_the_configured_base(tmp_path):
    tiny_model(tmp_path / "models" / "Team-Tiny")
    root = tmp_path / "ws"
    root.mkdir()
    (root / "sandbox.toml").write_text('[server]\nmodel = "../models/Team-Tiny"\n')
    workspace = load_workspace(root)
    server = start_local_server(workspace, generator=default_generator(workspace), preload=False)
    try:
        client = client_for(server)
        upload = client.files.create(file=("train.jsonl", examples(10)), purpose="fine-tune")
        with pytest.raises(openai.BadRequestError) as refused:
            client.fine_tuning.jobs.create(model=BASE_MODEL_ID, training_file=upload.id)
        assert f"{BASE_MODEL_ID!r} cannot be fine-tuned here" in refused.value.body["message"]
        assert "serves and fine-tunes 'team-tiny'" in refused.value.body["message"]

        job = client.fine_tuning.jobs.create(model="team-tiny", training_file=upload.id, suffix="tiny",
                                             hyperparameters={"n_epochs": 1, "batch_size": 10})
        done = wait_for(lambda: (j := client.fine_tuning.jobs.retrieve(job.id)).status in ("succeeded", "failed") and j, 300)
        assert done.status == "succeeded", done.error
        model = done.fine_tuned_model
        assert model.startswith("ft:team-tiny:tiny:")  # named after the base it trained on
        stored = json.loads((root / ".sandbox/finetune/jobs" / job.id / "job.json").read_text())
        assert stored["model"] == "team-tiny" and Path(stored["base_path"]) == root / "../models/Team-Tiny"
        assert "base_path" not in client.fine_tuning.jobs.retrieve(job.id).model_dump()  # local detail, not API shape
        assert model in {m.id for m in client.models.list().data}
        reply = client.chat.completions.create(model=model, max_tokens=4, temperature=0,
                                               messages=[{"role": "user", "content": "colour 3"}])
        assert reply.model == model and reply.usage.completion_tokens >= 1
    finally:
        server.stop()
        kill_workers(root)

    with pytest.raises(APIError) as mismatch:  # the bundled model's server: refused before anything loads
        LocalModel(root).prepare(model, [{"role": "user", "content": "hi"}], ChatParams(max_tokens=4))
    assert f"trained on 'team-tiny', but this server serves {BASE_MODEL_ID!r}" in mismatch.value.message


def test_preflight_counts_tokens_with_the_configured_base(tmp_path):
    tiny_model(tmp_path / "models" / "Team-Tiny", new_tokens=("<valve-spec>",))  # one token there, several in SmolLM2
    root = tmp_path / "ws"
    (root / "corpora" / "valves").mkdir(parents=True)
    (root / "sandbox.toml").write_text('[server]\nmodel = "../models/Team-Tiny"\n')
    rows = [{"messages": [{"role": "user", "content": f"spec {i}: " + "<valve-spec> " * 20},
                          {"role": "assistant", "content": f"V{i}"}]} for i in range(10)]
    examples = root / "corpora" / "valves" / "examples.jsonl"
    examples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = run_preflight(load_workspace(root), "valves")[0]
    bundled = preflight(examples, tokenizer=load_tokenizer())
    assert report.ok and report.token_stats.total <= bundled.token_stats.total - 10 * 20  # >= 1 token saved per term
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ConfigError, match="broken.gguf"):
        load_tokenizer(tmp_path / "broken.gguf")
