"""`sandbox serve`: the built-in OpenAI-compatible model server."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Optional

import typer

from sandbox.commands.shared import app, workspace
from sandbox.config import EndpointConfig
from sandbox.finetune.jobs import keep_moving
from sandbox.localserver import local_job_runner

LOOPBACK_NAMES = {"localhost"}


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Interface to bind (default: server.host in sandbox.toml, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default: server.port in sandbox.toml, 8700)."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow binding a non-loopback address (set [server] api_key_env to require a token)."),
    precision: Optional[str] = typer.Option(None, help="fp32, bf16 or int8 (default: server.precision in sandbox.toml, bf16)."),
    model: Optional[Path] = typer.Option(None, "--model", help="A .gguf file or a Hugging Face model folder with a chat "
                                         "template (default: server.model in sandbox.toml, else the bundled SmolLM2-135M)."),
) -> None:
    """Serve a local model (default SmolLM2-135M-Instruct) and your fine-tuned adapters over the OpenAI API (/v1/chat/completions).

    Point any OpenAI client at the printed base URL. The API key can be any string unless [server] api_key_env
    names a variable: then the server requires its value as bearer token.
    """
    import uvicorn

    from sandbox.server.app import create_app, default_generator  # fastapi: loaded only when serving

    ws = workspace()
    server = ws.settings.server
    host = host or server.host
    port = port if port is not None else server.port
    api_key = server_api_key(server)
    if not _is_loopback(host) and not allow_remote:
        typer.secho(
            f"Refusing to bind {host}: anyone on the network could reach the server.\n"
            "  Fix: use --host 127.0.0.1, or set [server] api_key_env (a bearer token) and pass --allow-remote.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    generator = default_generator(ws, precision=precision, model_path=model.resolve() if model else None)
    base_url = f"http://{host}:{port}/v1"
    key = f'os.environ["{server.api_key_env}"]' if api_key else '"unused"'
    typer.echo(f"Serving {generator.model_id} on {base_url}  (workspace {ws.root}, precision {generator.precision})")
    typer.echo(f'  from openai import OpenAI; client = OpenAI(base_url="{base_url}", api_key={key})')
    typer.echo(f"  or: export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=" + (f"${server.api_key_env}" if api_key else "unused"))
    if not api_key:
        typer.echo("No token required (set [server] api_key_env to require one): fine on a one-user machine only.")
    typer.echo("The model loads in the background; the first answer waits for it. Ctrl+C stops.")
    runner = local_job_runner(ws, generator.model_path)
    keep_moving(runner)  # queued fine-tunes (`sandbox finetune --no-wait`) train while the server runs
    app_ = create_app(ws, generator, job_runner=runner, preload=True, api_key=api_key, host=host)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


def server_api_key(server) -> str | None:
    """The bearer token `sandbox serve` requires: the value of [server] api_key_env (None: that is not set)."""
    if not server.api_key_env:
        return None
    return EndpointConfig(api_key_env=server.api_key_env).api_key()  # unset variable: ConfigError saying so


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except OSError:
            return False
