"""The whole loop on the real parts: `sandbox finetune` -> the real local server's files and
fine-tuning API (real openai client) -> a LoRA worker process -> the new model in /v1/models,
answering chat completions in the trained format where the base model does not."""

from __future__ import annotations

import json
import random

import openai
import pytest
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRST = ["Anna", "Ben", "Carla", "Dev", "Erin", "Femi", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena", "Milo",
         "Nora", "Otto", "Pia", "Quin", "Rosa", "Sam", "Tara", "Uma", "Vik", "Wren", "Yara"]
SYSTEM = "Extract the person record."


def record(rng: random.Random, name: str) -> tuple[str, str]:
    age, city = rng.randint(18, 90), rng.choice(["Leeds", "Oslo", "Lyon", "Porto", "Graz", "Turin"])
    text = rng.choice(["{n} is {a} years old and lives in {c}.", "Meet {n} from {c}, aged {a}.", "{c} resident {n}, age {a}."])
    return text.format(n=name, a=age, c=city), json.dumps({"name": name, "age": age})


def in_format(answer: str) -> bool:
    try:
        value = json.loads(answer.strip())
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and set(value) == {"name", "age"}


def test_finetune_loop_teaches_the_format(local_server, monkeypatch, tmp_path):
    from sandbox.cli import app
    from sandbox.config import load_workspace

    root = local_server.app.state.workspace_root
    rng = random.Random(7)
    ds = root / "corpora" / "people"
    ds.mkdir(parents=True, exist_ok=True)
    rows = [record(rng, name) for name in FIRST[:18]]
    (ds / "examples.jsonl").write_text("".join(json.dumps({"messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n"
        for q, a in rows))
    held_out = [record(rng, name)[0] for name in FIRST[18:22]]
    monkeypatch.setenv("SANDBOX_LOCAL_BASE_URL", local_server.base_url)

    result = CliRunner().invoke(app, ["--workspace", str(root), "finetune", "people", "--epochs", "2",
                                      "--batch-size", "4", "--suffix", "people", "--json"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout.strip().splitlines()[-1])
    assert job["status"] == "succeeded", job
    model = job["fine_tuned_model"]
    assert model.startswith("ft:smollm2-135m-instruct:people:")
    assert load_workspace(root).settings.model_for("fine-tuned", "people") == model  # registered for the pipeline

    client = openai.OpenAI(base_url=local_server.base_url, api_key="x", max_retries=0, _strict_response_validation=True)
    assert model in {m.id for m in client.models.list().data}
    events = client.fine_tuning.jobs.list_events(job["id"], limit=100).data
    metrics = [e.data for e in events if e.type == "metrics"][::-1]
    n_train = len(client.files.content(job["training_file"]).read().splitlines())
    assert [m["step"] for m in metrics] == list(range(1, 2 * -(-n_train // 4) + 1))  # every asked step ran
    assert metrics[-1]["total_steps"] == len(metrics) and metrics[-1]["epoch"] == 2
    assert min(m["train_loss"] for m in metrics[-3:]) < metrics[0]["train_loss"] / 2
    assert any("Trained 2 epochs x" in e.message and "tokens" in e.message for e in events)

    def rate(name: str) -> float:
        answers = [client.chat.completions.create(model=name, temperature=0, max_tokens=24, messages=[
            {"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]).choices[0].message.content for q in held_out]
        return sum(in_format(a) for a in answers) / len(answers), answers

    tuned, tuned_answers = rate(model)
    base, base_answers = rate("smollm2-135m-instruct")
    assert tuned >= base + 0.5, (tuned_answers, base_answers)

    # export: the PEFT adapter, a merged HF folder and the vLLM recipe
    out = tmp_path / "export"
    exported = CliRunner().invoke(app, ["--workspace", str(root), "finetune", "export", job["id"], "--out", str(out), "--json"])
    assert exported.exit_code == 0, exported.output
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "adapter" / "model.json").is_file()
    assert (out / "merged" / "config.json").is_file() and any((out / "merged").glob("*.safetensors"))
    assert (out / "merged" / "tokenizer_config.json").is_file()
    readme = (out / "README.md").read_text()
    assert "--enable-lora" in readme and "--lora-modules" in readme and model in readme
