"""The CLI's own contract: instant --help (no heavy imports), friendly domain errors."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "sentence_transformers", "chromadb", "gradio", "pandas", "openai", "peft", "sqlalchemy")


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], capture_output=True, text=True, timeout=60, **kw)


def test_help_imports_nothing_heavy():
    code = "import sys, sandbox.cli; print(','.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"`sandbox --help` would import {out}; move those imports into the functions that need them"


def test_help_lists_the_documented_commands():
    out = run("--help").stdout
    for command in ("app", "serve", "index", "search", "ask", "check-data", "finetune", "eval", "curve", "advise", "judgments", "init", "store"):
        assert command in out, command


def test_config_error_is_one_clear_message(tmp_path):
    (tmp_path / "sandbox.toml").write_text("[index]\nchunk_tokns = 3\n")
    result = run("--workspace", str(tmp_path), "search", "x")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "chunk_tokns" in result.stderr and "line 2" in result.stderr


def test_finetune_verbs_do_not_shadow_dataset_names(tmp_path):
    """`start list` fine-tunes a dataset named `list`; a bare non-verb is the shorthand for `start`."""
    (tmp_path / "corpora").mkdir()
    for args in (("finetune", "start", "list"), ("finetune", "nosuch")):
        result = run("--workspace", str(tmp_path), *args, "--no-wait")
        name = args[-1]
        assert result.returncode == 1 and f"Dataset '{name}' not found" in result.stderr, result.stderr


def test_every_command_module_imports_on_its_own():
    """No import cycle among the command modules: each can be imported first, in a fresh interpreter."""
    import pkgutil
    import subprocess
    import sys

    from sandbox import commands

    for module in pkgutil.iter_modules(commands.__path__):
        name = f"sandbox.commands.{module.name}"
        done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True)
        assert done.returncode == 0, f"{name}: {done.stderr[-500:]}"
