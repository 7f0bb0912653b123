"""End-to-end eval against the real local model over HTTP (SmolLM2 via the local server fixture)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from test_evaluate import make_workspace

pytestmark = pytest.mark.integration


def test_eval_limit_2_with_the_real_local_model(tmp_path, local_server):
    from sandbox.cli import app
    from sandbox.index import build_index

    ws = make_workspace(tmp_path / "ws", local_server.base_url, ft_model="")
    toml = ws.config_path.read_text().replace('model = "m"', 'model = "smollm2-135m-instruct"')
    toml = toml.replace("max_tokens = 32", "max_tokens = 16").replace("timeout_s = 10", "timeout_s = 120")
    ws.config_path.write_text(toml)
    build_index(ws, "valves")
    out = tmp_path / "report.html"
    args = ["--workspace", str(ws.root), "eval", "valves", "--limit", "2", "-p", "few-shot,rag", "--json", "--report", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("few-shot", "rag"):
        row = data["pipelines"][name]
        assert row["n"] == 2 and row["errors"] == 0, row
        assert row["metrics"]["completion_tokens"]["mean"] > 0 and row["metrics"]["latency_s"]["mean"] > 0
        assert 0 <= row["metrics"]["similarity"]["mean"] <= 1
    assert "hit_at_k" in data["pipelines"]["rag"]["metrics"]
    assert "data:image/png;base64," in out.read_text()
    again = CliRunner().invoke(app, args)  # resumable: nothing is generated twice
    assert json.loads(again.stdout.strip().splitlines()[-1])["ran"] == 0
