"""How one app instance is served: a private upload folder, an upload size limit, the web guard, login limits.

Gradio keeps uploads (and files it serves back) in one cache folder, by default ``/tmp/gradio`` shared by
every app on the machine and readable by every local user: an upload to a password-protected app would be
served by any other instance. Each instance gets ``.sandbox/app/<random>/`` (mode 0700), named through
``GRADIO_TEMP_DIR`` (Gradio reads it when the Blocks and its server are built, and when it checks that an
input file is in its cache), and removed when the app stops.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.webguard import Guard, LoginLimiter, allowed_hosts

TEMP_DIR_ENV = "GRADIO_TEMP_DIR"
CACHE_CLEANUP = (3600, 24 * 3600)  # every hour, files this app made more than a day ago go (gr.Blocks delete_cache)
FORM_SLACK_MB = 1.0  # a request may carry the largest upload plus this much of form and JSON


@contextmanager
def private_uploads(workspace) -> Iterator[Path]:
    """This instance's own 0700 upload/cache folder while the block runs (the app is built and served in it)."""
    parent = workspace.state_dir / "app"
    parent.mkdir(mode=0o700, exist_ok=True)
    _remove_orphans(parent)
    folder = parent / f"{os.getpid()}-{secrets.token_hex(8)}"
    folder.mkdir(mode=0o700)
    before = os.environ.get(TEMP_DIR_ENV)
    os.environ[TEMP_DIR_ENV] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop(TEMP_DIR_ENV, None)
        else:
            os.environ[TEMP_DIR_ENV] = before
        shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans(parent: Path) -> None:
    """Folders of instances that died without cleaning up (killed): their process id is gone."""
    for folder in parent.iterdir():
        pid = folder.name.partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def exit_on_sigterm() -> None:
    """``kill`` (SIGTERM) ends the app like Ctrl+C does, so its upload folder is removed on the way out."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def launch_options(workspace, host: str) -> dict[str, Any]:
    """``demo.launch`` keyword arguments: upload limit, Host/Origin guard and login limiter around Gradio's routes."""
    from starlette.middleware import Middleware

    limits = workspace.settings.limits
    guard = Middleware(Guard, hosts=allowed_hosts(host, workspace.settings.server.allowed_hosts),
                       max_body=int((limits.upload_mb + FORM_SLACK_MB) * 2**20), body_setting="[limits] upload_mb")
    return {"max_file_size": int(limits.upload_mb * 2**20), "strict_cors": True,
            "app_kwargs": {"middleware": [guard, Middleware(LoginLimiter)]}}
