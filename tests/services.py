"""Real processes for deployment tests and benchmarks: a `chroma run` server and `sandbox app` replicas.

    with ChromaServer(tmp) as chroma, AppProcess(workspace_root, env) as app:
        Client(app.url) ...

Each waits until it answers on its loopback port and is stopped (or killed) on exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from postgres import free_port

REPO = Path(__file__).resolve().parent.parent


class _Process:
    url = ""
    proc: subprocess.Popen

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up (code {self.proc.returncode}): {self.log_tail()}")
            try:
                if httpx.get(self.probe, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def kill9(self) -> None:
        """No shutdown at all, as after a crash or an OOM kill."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class ChromaServer(_Process):
    name = "chroma run"

    def __init__(self, data: Path, timeout: float = 60):
        binary = Path(sys.executable).parent / "chroma"
        if not binary.exists():
            raise FileNotFoundError(f"the chroma CLI is not at {binary} (pip install chromadb provides it)")
        port = free_port()
        self.url, self.probe, self.log = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api/v2/heartbeat", data / "chroma.log"
        data.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(binary), "run", "--host", "127.0.0.1", "--port", str(port),
                                          "--path", str(data / "chroma")], stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)


class AppProcess(_Process):
    """`sandbox app` in its own process, from the workspace folder ``root`` (as on another host)."""

    name = "sandbox app"

    def __init__(self, root: Path, env: dict[str, str] | None = None, timeout: float = 180):
        port = free_port()
        self.url = self.probe = f"http://127.0.0.1:{port}/"
        self.log = root / f"app-{port}.log"
        environ = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "sandbox", "app", "--port", str(port), "--no-preload"],
                                         cwd=root, env=environ, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
