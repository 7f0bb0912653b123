"""Any local model: `[server] model = PATH` (a .gguf file here) is served under an id from its file name;
a missing or damaged file is one clear error naming it; a fine-tune of another base is refused by name."""

from __future__ import annotations

import json
import shutil

import openai
import pytest

from sandbox.config import load_workspace
from sandbox.errors import ConfigError
from sandbox.localmodel.weights import gguf_path
from sandbox.localserver import start_local_server
from sandbox.server.app import default_generator
from sandbox.server.model import LocalModel
from sandbox.server.schemas import APIError, ChatParams

pytestmark = pytest.mark.integration


def test_a_gguf_at_another_path_is_served_under_its_file_name(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(gguf_path(), models / "My-Team_Model.Q4_1.gguf")  # the bundled weights, renamed: converted once
    root = tmp_path / "ws"
    root.mkdir()
    (root / "sandbox.toml").write_text('[server]\nmodel = "../models/My-Team_Model.Q4_1.gguf"\n')
    workspace = load_workspace(root)
    assert workspace.settings.endpoints["local"].model == "my-team_model.q4_1"  # pipelines call it by that id
    with start_local_server(workspace, generator=default_generator(workspace), preload=False) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=300)
        assert [m.id for m in client.models.list().data] == ["my-team_model.q4_1"]
        reply = client.chat.completions.create(model="my-team_model.q4_1", max_tokens=8, temperature=0,
                                               messages=[{"role": "user", "content": "Name three colours."}])
        assert reply.choices[0].message.content and reply.model == "my-team_model.q4_1"
        folder = server.app.state.workspace_root / ".sandbox" / "finetune" / "models" / "old"
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text("{}")
        (folder / "model.json").write_text(json.dumps({"id": "ft:other:x:1", "base": "smollm2-135m-instruct"}))
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="ft:other:x:1", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
        assert "trained on 'smollm2-135m-instruct'" in info.value.body["message"] and "my-team_model.q4_1" in info.value.body["message"]


def test_a_missing_or_damaged_model_file_is_one_clear_error(tmp_path):
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(ConfigError, match=str(missing)):
        LocalModel(tmp_path, model_path=missing).load()
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ConfigError, match=str(damaged)) as info:
        LocalModel(tmp_path, model_path=damaged).load()
    assert "download it again" in info.value.hint


def test_a_model_folder_without_chat_template_is_refused(tmp_path):
    folder = tmp_path / "plain-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="no chat template"):
        LocalModel(tmp_path, model_path=folder).load()
