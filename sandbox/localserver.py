"""The built-in server as sandbox runs it: the local model plus local fine-tuning jobs.

``sandbox.server`` knows nothing of fine-tuning and ``sandbox.finetune`` nothing of the server; this module
plugs the local job runner into the server (``sandbox serve``, the app, endpoints and tests start it here).
"""

from __future__ import annotations

from pathlib import Path

from sandbox.config import STATE_DIR, local_model_path, workspace_root
from sandbox.finetune.jobs import LocalJobRunner
from sandbox.server import inprocess

_CONFIGURED = object()  # model_path not given: the workspace's [server] model


def local_job_runner(workspace, model_path: Path | None | object = _CONFIGURED, start_workers: bool = True) -> LocalJobRunner:
    """Local fine-tuning of the served base model: ``model_path`` (e.g. ``sandbox serve --model``) or ``[server] model``;
    ``start_workers=False``: queue only (see ``sandbox.finetune.jobs.refresh``)."""
    path = local_model_path(workspace) if model_path is _CONFIGURED else model_path
    return LocalJobRunner(workspace_root(workspace) / STATE_DIR, path, start_workers)


def start_local_server(workspace, port: int = 0, *, generator=None, preload: bool = True,
                       api_key: str | None = None) -> inprocess.LocalServer:
    """The server with local fine-tuning on 127.0.0.1 (``port=0``: a free one), once it answers; fine-tunes
    train on the base model the generator serves."""
    runner = local_job_runner(workspace, generator.model_path) if hasattr(generator, "model_path") else local_job_runner(workspace)
    return inprocess.start_local_server(workspace, port, generator=generator, preload=preload,
                                        job_runner=runner, api_key=api_key)


def local_base_url(workspace, lasting: bool = True) -> str:
    """``$SANDBOX_LOCAL_BASE_URL`` if set, else this process's server for the workspace, started once. The
    first call decides: ``lasting=False`` (a command that only queues or looks at fine-tunes and exits) starts
    no training worker (it would stop with this process) and does not preload the model."""
    return inprocess.local_base_url(workspace, local_job_runner(workspace, start_workers=lasting), preload=lasting)
