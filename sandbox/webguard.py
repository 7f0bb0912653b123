"""Who may talk to our web servers (the app and ``sandbox serve``): one ASGI middleware.

- Host allow-list: a page on ``rebind.evil.example`` that resolves to 127.0.0.1 (DNS rebinding) sends that
  name as Host and is refused; the bound host, ``localhost``, ``127.0.0.1``, ``::1`` and configured names pass.
- Same origin only: a browser sends ``Origin`` on cross-origin requests; any origin other than the server's
  own (another site, another port on 127.0.0.1, ``null``) is refused, so a page elsewhere can neither read
  the API with the user's cookie nor post forms or files to it.
- Optional bearer token (``sandbox serve`` with ``[server] api_key_env``, the app's in-process server always).
- Request bodies counted while they stream: over the limit is 413 before the body is held in memory.
- ``LoginLimiter``: wrong passwords from one client address are limited (429 after a few).
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from urllib.parse import urlsplit

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names a request may name: local ones, the bound one (a wildcard bind: this machine's names), extras."""
    names = {*LOCAL_NAMES, *(h.strip().lower() for h in extra if h.strip())}
    if bound in WILDCARDS:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(bound.lower())
    return frozenset(names)


def host_name(netloc: str) -> str:
    """``[::1]:80`` -> ``::1``, ``Example.org:80`` -> ``example.org``."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0]
    return netloc.rpartition(":")[0] if netloc.count(":") == 1 else netloc


class BodyTooLarge(Exception):
    pass


class Guard:
    """ASGI middleware; ``hosts`` from ``allowed_hosts``, ``token`` None for none, ``max_body`` in bytes or None."""

    def __init__(self, app, *, hosts: Iterable[str], token: str | None = None, max_body: int | None = None,
                 body_setting: str = "[limits] request_mb"):
        self.app, self.hosts, self.token, self.max_body = app, frozenset(hosts), token, max_body
        self.body_setting = body_setting

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self.refusal(headers)
        if refusal is not None:
            return await _refuse(scope, send, *refusal)
        if scope["type"] == "websocket" or self.max_body is None:
            return await self.app(scope, receive, send)
        return await self._bounded(scope, receive, send, headers)

    def refusal(self, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            return 400, f"Host {host!r} is not allowed here. If you reach this server by that name, add it to [server] allowed_hosts."
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host.lower()):
            return 403, "Cross-origin requests are refused: open this server's own page instead."
        if self.token is not None:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
                return 401, "Missing or wrong bearer token: send 'Authorization: Bearer <key>' (the key is in the variable [server] api_key_env names)."
        return None

    def _too_large(self) -> str:
        return f"Request body is over the {self.max_body / 2**20:g} MB limit (raise {self.body_setting} to allow more)."

    async def _bounded(self, scope, receive, send, headers):
        limit = self.max_body
        if headers.get("content-length", "0").isdigit() and int(headers.get("content-length", "0")) > limit:
            return await _refuse(scope, send, 413, self._too_large())
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, send, 413, self._too_large())


async def _refuse(scope, send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": status}}).encode()
    extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]})
    await send({"type": "http.response.body", "body": body})


class LoginLimiter:
    """ASGI middleware on Gradio's ``POST /login``: after ``max_failures`` wrong passwords from one client
    address within ``window_s`` seconds, its further attempts get 429 until the oldest failure ages out."""

    def __init__(self, app, *, max_failures: int = 5, window_s: float = 300.0, clock=time.monotonic):
        self.app, self.max_failures, self.window_s, self.clock = app, max_failures, window_s, clock
        self.failures: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/login"):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.wait_s(client)
        if wait > 0:
            return await _refuse(scope, send, 429, f"Too many failed logins from your address: try again in {wait:.0f} s.")
        status = 0

        async def watching_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watching_send)
        self.record(client, ok=status < 400)

    def wait_s(self, client: str) -> float:
        with self.lock:
            recent = self._recent(client)
            return self.window_s - (self.clock() - recent[0]) if len(recent) >= self.max_failures else 0.0

    def record(self, client: str, ok: bool) -> None:
        with self.lock:
            if ok:
                self.failures.pop(client, None)
            else:
                self._recent(client).append(self.clock())

    def _recent(self, client: str) -> deque[float]:
        recent = self.failures.setdefault(client, deque())
        while recent and self.clock() - recent[0] >= self.window_s:
            recent.popleft()
        return recent
