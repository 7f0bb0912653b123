"""Run the local server inside this process (the app and tests use it) on a free loopback port.

``start_local_server`` starts uvicorn in a background thread and returns once ``/v1/models``
answers; the model loads in the background meanwhile (``preload``), so the first chat request waits
only for what is left. ``local_base_url`` gives each workspace one shared server per process; that
server requires a random bearer token made at its start (``token_for`` gives it to this process's clients),
so other local users and other programs cannot use it.
"""

from __future__ import annotations

import atexit
import os
import secrets
import socket
import threading
import time
import urllib.request
from pathlib import Path

from sandbox.config import workspace_root

READY_TIMEOUT_S = 30.0

_servers: dict[Path, "LocalServer"] = {}
_servers_lock = threading.Lock()


class LocalServer:
    """A uvicorn server in a daemon thread; ``.base_url`` is ``http://127.0.0.1:PORT/v1``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None):
        import uvicorn

        self.app = app
        self.api_key = api_key
        self.host = host
        self._socket = _bind(host, port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"sandbox-server-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def model(self):
        return self.app.state.model

    def start(self, timeout: float = READY_TIMEOUT_S) -> "LocalServer":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError(f"The local server on port {self.port} stopped while starting.")
            if self._server.started and _answers(self.base_url + "/models", self.api_key):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"The local server on port {self.port} did not answer within {timeout:.0f} s.")

    def _serve(self) -> None:
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_local_server(workspace, port: int = 0, *, generator=None, job_runner=None, preload: bool = True,
                       api_key: str | None = None) -> LocalServer:
    """Start a server for ``workspace`` on 127.0.0.1 (``port=0``: a free one) and wait until it answers;
    with ``api_key`` it requires that bearer token."""
    from sandbox.server.app import create_app  # fastapi: loaded only when serving

    app = create_app(workspace, generator, job_runner=job_runner, preload=preload, api_key=api_key)
    return LocalServer(app, "127.0.0.1", port, api_key=api_key).start()


def local_base_url(workspace, job_runner=None, preload: bool = True) -> str:
    """``$SANDBOX_LOCAL_BASE_URL`` if set, else this process's server for the workspace (started once,
    with ``job_runner`` behind its fine-tuning routes; ``preload``: start loading the model at once)."""
    if url := os.environ.get("SANDBOX_LOCAL_BASE_URL"):
        return url.rstrip("/")
    root = workspace_root(workspace).resolve()
    with _servers_lock:
        server = _servers.get(root)
        if server is None or not server._thread.is_alive():
            server = _servers[root] = start_local_server(workspace, job_runner=job_runner, preload=preload,
                                                         api_key=secrets.token_urlsafe(32))
        return server.base_url


def token_for(base_url: str) -> str | None:
    """The bearer token of this process's server at ``base_url`` (None: not ours, or it needs none)."""
    with _servers_lock:
        server = next((s for s in _servers.values() if s.base_url == base_url.rstrip("/")), None)
    return server.api_key if server else None


def wait_until_loaded(base_url: str) -> None:
    """Block until this process's server at ``base_url`` has its model loaded (another server: no-op)."""
    with _servers_lock:
        server = next((s for s in _servers.values() if s.base_url == base_url.rstrip("/")), None)
    load = getattr(server.model, "load", None) if server else None
    if load is not None:
        load()


def _stop_all() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()


atexit.register(_stop_all)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _answers(url: str, api_key: str | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
