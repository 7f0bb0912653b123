"""A cold `sandbox ask`: loading the embedder and index for two pipelines must not time out the third.

Before, the fine-tuned call (an endpoint answering in 1.5 s, timeout 3 s) was sent while another
thread loaded the embedder, which held the GIL and starved the event loop: the call timed out, and
few-shot's latency included the model load. Real parts: the real embedder and Chroma index, a fresh
`sandbox` process, loopback endpoints from tests/fakeserver.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakeserver import FakeServer, Reply
from test_pipelines import make_workspace

from sandbox.index import build_index

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent


def test_cold_ask_loads_before_calling_and_reports_load_separately(tmp_path):
    with FakeServer(Reply("quick answer", delay=0.05)) as fast, FakeServer(Reply("slow answer", delay=1.5)) as slow:
        toml = "\n".join([
            "[endpoints.fast]", f'base_url = "{fast.base_url}"', 'model = "m"',
            "[endpoints.slow]", f'base_url = "{slow.base_url}"', 'model = "m"', "timeout_s = 3", "max_retries = 0",
            "[pipelines.few-shot]", 'endpoint = "fast"', "[pipelines.rag]", 'endpoint = "fast"',
            "[pipelines.fine-tuned]", 'endpoint = "slow"', "[datasets.units]", 'fine_tuned_model = "ft:m:units:1"',
        ]) + "\n"
        ws = make_workspace(tmp_path / "ws", toml=toml)
        docs = ws.root / "corpora" / "units" / "docs"
        docs.mkdir()
        (docs / "feet.md").write_text("# Feet\n\nOne metre is 3.28 feet. A foot is 0.3048 metres.\n")
        build_index(ws, "units")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-m", "sandbox", "--workspace", str(ws.root), "ask", "seven metres in feet",
                              "-d", "units", "--json"], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    results = {r["pipeline"]: r for r in json.loads(out.stdout)["results"]}
    assert results["fine-tuned"]["error"] is None and results["fine-tuned"]["answer"] == "slow answer"
    assert all(r["error"] is None for r in results.values())
    # the embedder and index loaded in this fresh process: that time is load_s, not latency
    assert results["few-shot"]["load_s"] > 0 and results["rag"]["load_s"] > 0
