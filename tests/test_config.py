"""Settings precedence and every config error message (file, key, line, fix)."""

from __future__ import annotations

import pytest

from sandbox.config import Settings, load_workspace, set_value
from sandbox.errors import ConfigError, DatasetNotFound


def write(ws, text: str):
    (ws / "sandbox.toml").write_text(text, encoding="utf-8")


def test_defaults_without_file(workspace_dir):
    ws = load_workspace(workspace_dir, env={})
    assert ws.settings == Settings()
    assert ws.settings.endpoint_for("rag").is_local
    assert ws.settings.model_for("few-shot") == "smollm2-135m-instruct"
    assert ws.settings.model_for("fine-tuned", "any") == ""


def test_precedence_defaults_file_env(workspace_dir):
    write(workspace_dir, "[index]\nchunk_tokens = 100\nchunk_overlap = 10\n")
    ws = load_workspace(workspace_dir, env={"SANDBOX_INDEX__CHUNK_TOKENS": "300"})
    assert ws.settings.index.chunk_tokens == 300  # env beats file
    assert ws.settings.index.chunk_overlap == 10  # file beats default
    assert ws.settings.index.max_file_mb == 20.0  # default


def test_env_reaches_nested_pipeline_and_endpoint(workspace_dir):
    write(workspace_dir, '[endpoints.openai]\nbase_url = "https://api.openai.com/v1"\napi_key_env = "OPENAI_API_KEY"\n')
    env = {"SANDBOX_PIPELINES__FINE_TUNED__ENDPOINT": "openai", "SANDBOX_ENDPOINTS__OPENAI__MODEL": "gpt-4o-mini"}
    ws = load_workspace(workspace_dir, env=env)
    assert ws.settings.endpoint_for("fine-tuned").model == "gpt-4o-mini"


def test_workspace_from_env_and_flag(workspace_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SANDBOX_WORKSPACE", str(workspace_dir))
    assert load_workspace().root == workspace_dir.resolve()
    other = tmp_path / "other"
    other.mkdir()
    assert load_workspace(other).root == other.resolve()  # the flag beats the env


def test_invalid_toml_names_file_and_line(workspace_dir):
    write(workspace_dir, "[index]\nchunk_tokens = 100\nchroma_url = http://x\n")
    with pytest.raises(ConfigError) as err:
        load_workspace(workspace_dir, env={})
    assert "sandbox.toml" in str(err.value) and "line 3" in str(err.value)


def test_unknown_key_names_key_line_and_alternatives(workspace_dir):
    write(workspace_dir, "# settings\n[index]\nchunk_tokns = 100\n")
    with pytest.raises(ConfigError) as err:
        load_workspace(workspace_dir, env={})
    msg = str(err.value)
    assert "chunk_tokns" in msg and "line 3" in msg and "chunk_tokens" in msg and "sandbox.toml" in msg


def test_unknown_section(workspace_dir):
    write(workspace_dir, "[indx]\nk = 1\n")
    with pytest.raises(ConfigError, match=r"line 1.*unknown key 'indx'"):
        load_workspace(workspace_dir, env={})


def test_unknown_pipeline(workspace_dir):
    write(workspace_dir, '[pipelines.finetuned]\nendpoint = "local"\n')
    with pytest.raises(ConfigError, match=r"(?s)line 1: unknown pipeline.*fine-tuned"):
        load_workspace(workspace_dir, env={})


def test_wrong_type_names_key_and_value(workspace_dir):
    write(workspace_dir, '[endpoints.local]\ntimeout_s = "soon"\n')
    with pytest.raises(ConfigError, match=r"line 2: endpoints.local.timeout_s.*'soon'"):
        load_workspace(workspace_dir, env={})


def test_undefined_endpoint(workspace_dir):
    write(workspace_dir, '[pipelines.rag]\nendpoint = "vllm"\n')
    with pytest.raises(ConfigError, match=r"\[endpoints.vllm\]"):
        load_workspace(workspace_dir, env={})


def test_bad_env_value_is_a_config_error(workspace_dir):
    with pytest.raises(ConfigError, match="chunk_tokens"):
        load_workspace(workspace_dir, env={"SANDBOX_INDEX__CHUNK_TOKENS": "many"})


def test_api_key_only_from_environment(workspace_dir, monkeypatch):
    write(workspace_dir, '[endpoints.openai]\nbase_url = "https://api.openai.com/v1"\napi_key_env = "OPENAI_API_KEY"\n')
    endpoint = load_workspace(workspace_dir, env={}).settings.endpoints["openai"]
    with pytest.raises(ConfigError, match="export OPENAI_API_KEY"):
        endpoint.api_key()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert endpoint.api_key() == "sk-test"


def test_set_value_keeps_comments_and_reloads(workspace_dir):
    write(workspace_dir, "# team settings\n[index]\nchunk_tokens = 120  # small docs\n")
    ws = load_workspace(workspace_dir, env={})
    set_value(ws, ["datasets", "support", "fine_tuned_model"], "ft:smollm2-135m-instruct:support:abc")
    text = (workspace_dir / "sandbox.toml").read_text()
    assert "# team settings" in text and "# small docs" in text
    assert ws.settings.model_for("fine-tuned", "support") == "ft:smollm2-135m-instruct:support:abc"


def test_missing_dataset_lists_available(workspace_dir):
    (workspace_dir / "corpora" / "support").mkdir()
    ws = load_workspace(workspace_dir, env={})
    assert ws.dataset_dir().name == "support"
    with pytest.raises(DatasetNotFound, match="Available: support"):
        ws.dataset_dir("nope")
