"""A learning curve on the real parts: the real local server's fine-tuning API (real openai client),
LoRA worker processes, and the fine-tuned pipeline answering with each point's adapter. The full-size
point reuses the dataset's registered fine-tune (same examples, same settings) instead of training again."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYSTEM = "Extract the person record as JSON."


def _record(rng: random.Random, i: int) -> tuple[str, str]:
    name, age, city = f"Person{i}", rng.randint(18, 90), rng.choice(["Leeds", "Oslo", "Lyon", "Porto"])
    return f"{name} is {age} years old and lives in {city}.", json.dumps({"name": name, "age": age, "city": city})


def test_curve_trains_the_small_size_and_reuses_the_registered_full_fine_tune(local_server, monkeypatch):
    from sandbox.cli import app

    root = local_server.app.state.workspace_root
    rng = random.Random(3)
    ds = root / "corpora" / "records"
    ds.mkdir(parents=True, exist_ok=True)
    (ds / "examples.jsonl").write_text("".join(json.dumps({"messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n"
        for q, a in (_record(rng, i) for i in range(22))))
    (ds / "questions.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "question": q, "reference": a}) + "\n"
                                                for i, (q, a) in enumerate(_record(rng, 100 + i) for i in range(3))))
    monkeypatch.setenv("SANDBOX_LOCAL_BASE_URL", local_server.base_url)
    cli = ["--workspace", str(root)]
    tuned = CliRunner().invoke(app, [*cli, "finetune", "records", "--epochs", "1", "--batch-size", "4", "--json"])
    assert tuned.exit_code == 0, tuned.output
    job = json.loads(tuned.stdout.strip().splitlines()[-1])

    result = CliRunner().invoke(app, [*cli, "curve", "records", "--sizes", "10,all", "--epochs", "1", "--batch-size", "4",
                                      "--no-references", "--json"])
    assert result.exit_code == 0, result.output
    curve = json.loads(result.stdout)
    small, full = curve["points"]
    assert (small["size"], full["size"]) == (10, curve["n_train"])
    assert full["reused"] and full["job_id"] == job["id"] and full["model"] == job["fine_tuned_model"]
    assert not small["reused"] and small["model"].startswith("ft:smollm2-135m-instruct:records-n10:")
    assert small["trained_tokens"] > 0 and small["train_seconds"] > 0 and small["cost_usd"] == 0.0
    assert full["trained_tokens"] > small["trained_tokens"]
    for point in curve["points"]:
        assert point["quality"]["n"] == 3 and point["errors"] == 0 and point["eval_seconds"] > 0
    assert curve["metric"] == "json_values"
