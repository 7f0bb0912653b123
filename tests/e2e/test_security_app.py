"""Issue #19 against running apps: private upload folders, Host/Origin guard, login limits, datasets as names.

Each app here is a real `sandbox app` process (Gradio reads its upload folder from the environment, so two
instances are two processes, as on a shared host); its model endpoint is a scripted loopback server."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import CHROMIUM, make_workspace
from fakeserver import FakeServer, Reply

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    def __init__(self, root: Path, auth: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO), "SANDBOX_WORKSPACE": str(root), "GRADIO_ANALYTICS_ENABLED": "False"}
        env.pop("GRADIO_TEMP_DIR", None)
        if auth:
            env["SANDBOX_APP_AUTH"] = auth
        self.proc = subprocess.Popen([sys.executable, "-m", "sandbox", "app", "--port", str(self.port), "--no-preload"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 240) -> "AppProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode())
            try:
                if httpx.get(self.url + "/gradio_api/info", timeout=2).status_code in (200, 401):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"app on {self.url} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def two_apps(tmp_path):
    with FakeServer(Reply("The pump runs at 42 rpm")) as server:
        a = AppProcess(make_workspace(tmp_path / "a", server.base_url), auth="alice:pa55word")
        b = AppProcess(make_workspace(tmp_path / "b", server.base_url))
        try:
            yield a.wait(), b.wait(), tmp_path
        finally:
            a.stop()
            b.stop()


def login(client: httpx.Client, url: str, password: str = "pa55word") -> httpx.Response:
    return client.post(url + "/login", data={"username": "alice", "password": password})


def test_two_apps_do_not_serve_each_others_uploads(two_apps):
    a, b, root = two_apps
    with httpx.Client() as alice:
        assert login(alice, a.url).status_code == 200
        uploaded = alice.post(a.url + "/gradio_api/upload", files={"files": ("secret.txt", b"alice's secret")})
        assert uploaded.status_code == 200, uploaded.text
        path = uploaded.json()[0]
        folder = root / "a" / ".sandbox" / "app"
        assert Path(path).is_relative_to(folder.resolve()) and path.endswith("secret.txt")
        private = next(folder.iterdir())
        assert stat.S_IMODE(private.stat().st_mode) == 0o700 and stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert alice.get(f"{a.url}/gradio_api/file={path}").content == b"alice's secret"
    assert httpx.get(f"{b.url}/gradio_api/file={path}").status_code == 403  # the other instance
    assert httpx.get(f"{a.url}/gradio_api/file={path}").status_code in (401, 403)  # no login
    too_big = httpx.Client()
    login(too_big, a.url)
    big = too_big.post(a.url + "/gradio_api/upload", files={"files": ("big.bin", b"0" * (21 * 2**20))})
    assert big.status_code in (413, 400) and "secret" not in big.text
    a.stop()
    assert not list((root / "a" / ".sandbox" / "app").iterdir())  # the cache goes with the app


def test_login_attempts_are_limited_per_client_and_hosts_checked(two_apps):
    a, b, _ = two_apps
    with httpx.Client() as mallory:
        codes = [login(mallory, a.url, f"guess{i}").status_code for i in range(30)]
        assert codes[:5] == [400] * 5 and set(codes[5:]) == {429}
        assert login(mallory, a.url).status_code == 429  # locked out, even with the right password, for a while
    rebound = httpx.get(b.url + "/gradio_api/info", headers={"Host": "rebind.evil.example"})
    assert rebound.status_code == 400
    cross = httpx.post(b.url + "/gradio_api/call/summary", json={"data": [""]},
                       headers={"Origin": f"http://127.0.0.1:{b.port + 1}"})
    # refused inside Gradio's own CORS layer (which still echoes loopback origins): only the refusal is readable
    assert cross.status_code == 403 and "event_id" not in cross.text and "Cross-origin" in cross.text


def test_api_refuses_a_path_as_dataset(two_apps):
    from gradio_client import Client

    _, b, root = two_apps
    outside = root / "outside"
    outside.mkdir()
    (outside / "questions.jsonl").write_text('{"id": "s", "question": "secret"}\n')
    client = Client(b.url, verbose=False)
    for name in (str(outside), "../../outside", "plant/../../outside"):
        with pytest.raises(Exception, match="not found") as err:
            client.predict("How fast?", name, True, "", api_name="/ask")
        assert str(root / "b") not in str(err.value)  # the name is echoed; no folder of the workspace is
        with pytest.raises(Exception, match="not found"):
            client.predict(name, api_name="/summary")
    assert client.predict("plant", api_name="/summary")["judgments"] == 0


def test_a_page_on_another_loopback_port_cannot_read_the_app(two_apps, browser):
    """Issue #19 row 3: fetch(':7882/gradio_api/call/summary', {credentials: 'include'}) returned all judgments."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    a, _, _ = two_apps
    evil_page = b"<html><body>evil</body></html>"

    class Evil(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(evil_page)))
            self.end_headers()
            self.wfile.write(evil_page)

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(a.url + "/")  # the user logs in to the app in this browser
        page.fill("input[name=username], input[type=text]", "alice")
        page.fill("input[type=password]", "pa55word")
        page.keyboard.press("Enter")
        page.wait_for_selector("#dataset", timeout=60_000)
        own = page.evaluate("""async () => (await fetch('/gradio_api/info', {credentials: 'include'})).status""")
        assert own == 200  # the user's own session works
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        result = page.evaluate("""async (url) => {
            try {
                const r = await fetch(url + '/gradio_api/call/summary', {method: 'POST', credentials: 'include',
                    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({data: ['']})});
                return 'read ' + r.status + ' ' + (await r.text());
            } catch (e) { return 'blocked ' + e; }
        }""", a.url)
        assert not result.startswith("read 200") and "event_id" not in result
    finally:
        evil.shutdown()
