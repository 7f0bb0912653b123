"""App benchmarks (not tests): start-up against a bare gr.Blocks app, and click-to-first-token in Chromium.

    .venv/bin/python benchmarks/bench_app.py [--runs 3] [--workspace .]

1. Start-up: `sandbox app` (demo workspace, local model preloading in the background) until GET /
   answers 200, as a ratio to a bare `gr.Blocks` app started the same way in the same run. Also
   reports whether the model was still loading when the page first answered (it must not block it).
2. Click to first token: in headless Chromium against `sandbox app` with the real local model,
   from the click on "Ask all three" to the first streamed characters in any answer column,
   as a ratio to the time to first token of a direct streaming request to the same local server.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SANDBOX = str(Path(PY).with_name("sandbox"))
BARE = "import gradio as gr\nwith gr.Blocks() as demo:\n    gr.Textbox()\ndemo.launch(server_name='127.0.0.1', server_port={port}, ssr_mode=False, quiet=True)\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_page(url: str, timeout: float = 180) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def start(cmd: list[str], port: int, env: dict) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    wait_page(f"http://127.0.0.1:{port}/")
    return proc, time.perf_counter() - t0


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def bench_startup(runs: int, workspace: str) -> dict:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    bare_file = Path(tempfile.mkdtemp()) / "bare.py"
    bare, app = [], []
    for _ in range(runs):
        port = free_port()
        bare_file.write_text(BARE.format(port=port))
        proc, seconds = start([PY, str(bare_file)], port, env)
        bare.append(seconds)
        stop(proc)
        port = free_port()
        proc, seconds = start([SANDBOX, "--workspace", workspace, "app", "--port", str(port)], port, env)
        app.append(seconds)
        stop(proc)
    return {"bare_s": statistics.median(bare), "app_s": statistics.median(app),
            "ratio": statistics.median(app) / statistics.median(bare)}


def direct_ttft(base_url: str, model: str) -> float:
    import httpx

    start = time.perf_counter()
    with httpx.stream("POST", f"{base_url}/chat/completions", timeout=120, json={
            "model": model, "stream": True, "max_tokens": 16,
            "messages": [{"role": "user", "content": "How do I reset the device?"}]}) as r:
        for line in r.iter_lines():
            if line.startswith("data:") and '"content"' in line:
                return time.perf_counter() - start
    raise RuntimeError("no token")


def compare_ttft(workspace: str) -> float:
    """Time to the first streamed piece of `stream_compare` itself (no UI): isolates the app's overhead."""
    import asyncio

    from sandbox.compare import Delta, stream_compare
    from sandbox.config import load_workspace

    ws = load_workspace(workspace)

    async def first() -> float:
        start = time.perf_counter()
        stream = stream_compare(ws, "How do I reset the device?")
        try:
            async for event in stream:
                if isinstance(event, Delta) and event.text:
                    return time.perf_counter() - start
        finally:
            await stream.aclose()
        raise RuntimeError("no token")
    return asyncio.run(first())


def bench_first_token(workspace: str, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    from sandbox.config import load_workspace
    from sandbox.localserver import start_local_server

    ws = load_workspace(workspace)
    model = ws.settings.endpoints["local"].model
    with start_local_server(ws) as server:
        direct_ttft(server.base_url, model)  # warm: model loaded
        direct = statistics.median(direct_ttft(server.base_url, model) for _ in range(runs))
        port = free_port()
        env = {**os.environ, "SANDBOX_LOCAL_BASE_URL": server.base_url, "GRADIO_ANALYTICS_ENABLED": "False",
               "SANDBOX_PIPELINES__FEW_SHOT__MAX_TOKENS": "16", "SANDBOX_PIPELINES__RAG__MAX_TOKENS": "16",
               "SANDBOX_PIPELINES__FINE_TUNED__MAX_TOKENS": "16"}
        os.environ.update(env)
        compare_ttft(workspace)  # warm: embedder, example bank, retriever
        backend = statistics.median(compare_ttft(workspace) for _ in range(runs))
        proc, _ = start([SANDBOX, "--workspace", workspace, "app", "--port", str(port)], port, env)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                times = [click_to_token(page) for _ in range(runs + 1)][1:]  # the first warms the pipelines
                browser.close()
        finally:
            stop(proc)
    ui = statistics.median(times)
    return {"direct_ttft_s": direct, "compare_ttft_s": backend, "browser_ttft_s": ui, "ratio": ui / backend}


def click_to_token(page) -> float:
    """From the click to the first new characters in any column (after the columns were reset)."""
    page.locator("#question textarea").fill(f"How do I reset the device? ({time.time_ns() % 1000})")
    page.wait_for_timeout(300)
    page.evaluate("() => { window.__old = [0,1,2].map(i => document.querySelector(`#answer-${i} textarea`)?.value || ''); }")
    start = time.perf_counter()
    page.locator("#ask").click()
    page.wait_for_function("""() => {
        const v = [0,1,2].map(i => document.querySelector(`#answer-${i} textarea`)?.value || '');
        return v.some((x, i) => x.length > 0 && !x.startsWith('Error') && !window.__old[i].startsWith(x));
    }""", timeout=120_000, polling=5)
    elapsed = time.perf_counter() - start
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('All answers are in')",
                           timeout=300_000)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workspace", default=str(ROOT))
    args = parser.parse_args()
    s = bench_startup(args.runs, args.workspace)
    print(f"start-up until the page answers: sandbox app {s['app_s']:.2f} s vs bare gr.Blocks {s['bare_s']:.2f} s "
          f"-> ratio {s['ratio']:.2f}x (median of {args.runs})")
    t = bench_first_token(args.workspace, args.runs)
    print(f"click to first token in Chromium: {t['browser_ttft_s']:.2f} s vs stream_compare without UI "
          f"{t['compare_ttft_s']:.2f} s -> ratio {t['ratio']:.2f}x; one bare chat request's first token "
          f"{t['direct_ttft_s']:.2f} s (median of {args.runs}, local model, 3 pipelines at once)")


if __name__ == "__main__":
    main()
