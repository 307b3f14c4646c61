"""Checkpoints shared the Hugging Face way: save_pretrained / from_pretrained on the value
and user model classes, push_to_hub through huggingface_hub against a stub Hub on 127.0.0.1."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("huggingface_hub")

from pasta_core.errors import InvalidValueError, MissingDependencyError  # noqa: E402
from pasta_core.types import Candidate, History  # noqa: E402
from pasta_value.embedded import EmbeddedSettings, EmbeddedValueModel  # noqa: E402
from tests.tracking.hubstub import StubHub  # noqa: E402


@pytest.fixture
def online(monkeypatch):
    """The suite runs with HF_HUB_OFFLINE=1; these tests talk to 127.0.0.1 only."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def _value_model(seed: int = 3) -> EmbeddedValueModel:
    return EmbeddedValueModel(EmbeddedSettings(encoder="words", dim=16, width=8, seed=seed))


def _q(model: EmbeddedValueModel) -> np.ndarray:
    history = History("a red fox")
    return model.q_values([history, history], [Candidate("a red fox at dusk", "detail"), Candidate("a fox", "rephrase")])


def test_value_model_save_pretrained_and_from_pretrained_a_folder(tmp_path) -> None:
    model = _value_model()
    assert model.save_pretrained(tmp_path / "v") == tmp_path / "v"
    loaded = EmbeddedValueModel.from_pretrained(tmp_path / "v", device="cpu")
    assert np.array_equal(_q(loaded), _q(model)) and not np.array_equal(_q(_value_model(seed=4)), _q(model))
    with pytest.raises(InvalidValueError, match="neither a checkpoint folder nor a Hub repo id"):
        EmbeddedValueModel.from_pretrained(tmp_path / "missing" / "deeper")


def test_value_model_push_to_hub_then_from_pretrained_the_repo(tmp_path, online) -> None:
    model = _value_model()
    with StubHub() as hub:
        url = model.push_to_hub("me/fox-value", endpoint=hub.url, token="hf_test", private=True)
        assert url == f"{hub.url}/me/fox-value/commit/" + "c0ffee" + "0" * 34
        assert hub.created == [{"name": "fox-value", "organization": "me", "type": "model", "visibility": "private"}]
        assert set(hub.auth) == {"Bearer hf_test"}
        assert sorted(hub.repos["me/fox-value"]) == ["README.md", "config.json", "model.safetensors"]
        commit = [body for method, path, body in hub.requests if path == "/api/models/me/fox-value/commit/main"]
        assert len(commit) == 1 and json.loads(commit[0].splitlines()[0])["value"]["summary"] == "Upload a PASTA checkpoint"
        card = hub.repos["me/fox-value"]["README.md"].decode()
        assert "library_name: pasta-t2i" in card and "- value-model" in card
        assert json.loads(hub.repos["me/fox-value"]["config.json"])["plugin"] == "embedded"
        loaded = EmbeddedValueModel.from_pretrained("me/fox-value", endpoint=hub.url, cache_dir=tmp_path / "cache")
    assert np.array_equal(_q(loaded), _q(model))
    assert any(path.startswith("/me/fox-value/resolve/") for _, path, _ in hub.requests)


def test_push_folder_leaves_training_state_and_caches_behind(tmp_path, online) -> None:
    from pasta_checkpoints.hub import push_folder

    folder = _value_model().save(tmp_path / "run")
    for extra in ("train-state/step-2/state.safetensors", "embeddings/texts.npy", "tensorboard/events.out"):
        (folder / extra).parent.mkdir(parents=True, exist_ok=True)
        (folder / extra).write_bytes(b"not shared")
    (folder / "metrics.jsonl").write_text('{"step": 1}\n')
    with StubHub() as hub:
        push_folder(folder, "me/run", endpoint=hub.url, token="hf_test")
    assert sorted(hub.repos["me/run"]) == ["README.md", "config.json", "metrics.jsonl", "model.safetensors"]
    with pytest.raises(InvalidValueError, match="not a checkpoint folder"):
        push_folder(tmp_path, "me/run", endpoint="http://127.0.0.1:9", token="hf_test")


def test_hub_needs_its_extra_only_for_repo_ids(tmp_path, monkeypatch) -> None:
    model = _value_model()
    model.save_pretrained(tmp_path / "v")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    EmbeddedValueModel.from_pretrained(tmp_path / "v")  # a folder needs no huggingface_hub
    with pytest.raises(MissingDependencyError, match=r"pasta-t2i\[hub\]"):
        EmbeddedValueModel.from_pretrained("me/fox-value")


def test_user_model_save_pretrained_push_and_from_pretrained(tmp_path, online) -> None:
    from pasta_clip_em.usermodel import ClipEmUserModel, create_user_model
    from pasta_core.plugins import get_plugins

    plugins = get_plugins()
    model = create_user_model(types=3, encoder="embedded", dim=16, seed=2, plugins=plugins)
    images = [np.full((8, 8, 3), v, np.uint8) for v in (10, 200)]
    from PIL import Image

    pictures = [Image.fromarray(a) for a in images]
    folder = model.save_pretrained(tmp_path / "um")
    assert ClipEmUserModel.from_pretrained(folder, plugins=plugins).scores("a cat", pictures).shape == (3, 2)
    with StubHub() as hub:
        model.push_to_hub("me/users", endpoint=hub.url, token="hf_test")
        assert {"README.md", "config.json", "model.safetensors"} <= set(hub.repos["me/users"])
        loaded = ClipEmUserModel.from_pretrained("me/users", endpoint=hub.url, cache_dir=tmp_path / "c", plugins=plugins)
    assert np.allclose(loaded.scores("a cat", pictures), model.scores("a cat", pictures))
    assert np.allclose(loaded.prior, model.prior)


def test_value_push_command_uploads_a_training_folder(cli_runner, tmp_path, online, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    folder = _value_model().save(tmp_path / "run")
    (folder / "train-state").mkdir()
    (folder / "train-state" / "latest.json").write_text("{}")
    with StubHub() as hub:
        result = cli_runner.invoke(["value", "push", str(folder), "me/run", "--endpoint", hub.url, "--private"])
        assert result.exit_code == 0, result.output
        assert f"pushed {folder} to me/run: {hub.url}/me/run/commit/" in result.output
    assert sorted(hub.repos["me/run"]) == ["README.md", "config.json", "model.safetensors"]
    assert set(hub.auth) == {"Bearer hf_from_env"}
    assert hub.created[0]["visibility"] == "private" and "- value-model" in hub.repos["me/run"]["README.md"].decode()
    result = cli_runner.invoke(["user-model", "push", str(tmp_path), "me/x", "--endpoint", hub.url])
    assert result.exit_code == 1 and "not a checkpoint folder" in result.output


def test_user_model_from_pretrained_needs_the_plugins(tmp_path) -> None:
    from pasta_clip_em.usermodel import ClipEmUserModel, create_user_model
    from pasta_core.plugins import get_plugins

    create_user_model(types=2, encoder="embedded", dim=8, plugins=get_plugins()).save_pretrained(tmp_path / "um")
    with pytest.raises(InvalidValueError, match="needs plugins="):
        ClipEmUserModel.from_pretrained(tmp_path / "um")
