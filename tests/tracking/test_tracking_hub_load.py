"""--value-model / --user-model (and the user-model commands' checkpoints) by Hugging Face
Hub repo id: pushed to a stub Hub on 127.0.0.1, then loaded by hf://owner/name through the
user's (here: a temporary) Hugging Face cache, online and offline; failures are one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("huggingface_hub")

from pasta_checkpoints.resolve import HubRef, hub_ref, pinned, resolve_model  # noqa: E402
from pasta_core.errors import PluginError  # noqa: E402
from pasta_core.plugins import get_plugins  # noqa: E402
from pasta_core.types import Candidate, History  # noqa: E402
from pasta_value.embedded import EmbeddedSettings, EmbeddedValueModel  # noqa: E402
from tests.tracking.hubstub import StubHub  # noqa: E402

RUN = ["run", "--user", "sim", "--selector", "value", "--turns", "2", "--seed", "3", "--t2i-option", "size=32"]


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A stub Hub at HF_ENDPOINT, online, with the Hugging Face cache in tmp_path."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    with StubHub() as stub:
        monkeypatch.setenv("HF_ENDPOINT", stub.url)
        yield stub


def _offline(monkeypatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _q(model) -> np.ndarray:
    history = History("a red fox")
    return model.q_values([history, history], [Candidate("a red fox at dusk", "detail"), Candidate("a fox", "rephrase")])


def _pushed_value_model(cli_runner, tmp_path, hub, repo="me/fox-value"):
    model = EmbeddedValueModel(EmbeddedSettings(encoder="words", dim=16, width=8, seed=3))
    folder = model.save_pretrained(tmp_path / "value")
    result = cli_runner.invoke(["value", "push", str(folder), repo, "--endpoint", hub.url])
    assert result.exit_code == 0, result.output
    return model, folder


def _shown(out):
    """The prompts a session in ``out`` showed, turn by turn."""
    from pasta_core.store import read_trajectories

    (trajectory,) = read_trajectories(out)
    return [[c.text for c in turn.slate] for turn in trajectory.turns]


def test_hub_ref_tells_repos_from_names_and_paths(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "value").mkdir(parents=True)
    assert hub_ref("runs/value") is None and hub_ref("simple", {"simple"}) is None  # a path, a registered name
    assert hub_ref("simple") is None and hub_ref("/abs/path/x") is None and hub_ref("a/b/c") is None
    assert hub_ref("me/fox") == HubRef("me/fox", None, "me/fox")
    assert hub_ref("hf://me/fox@v2") == HubRef("me/fox", "v2", "hf://me/fox@v2")
    assert hub_ref("hf://runs/value") == HubRef("runs/value", None, "hf://runs/value")  # hf:// always means the Hub
    with pytest.raises(PluginError, match="written hf://owner/name"):
        hub_ref("hf://just-a-name")


def test_a_pushed_value_model_loads_by_repo_id_with_the_same_outputs(cli_runner, tmp_path, hub) -> None:
    model, folder = _pushed_value_model(cli_runner, tmp_path, hub)
    plugins = get_plugins()
    for name in ("hf://me/fox-value", "me/fox-value", "hf://me/fox-value@main"):
        local = resolve_model(name, "value-model", plugins)
        assert local.startswith(str(tmp_path / "hf-cache")), local
        assert np.array_equal(_q(plugins.load("value-model", local, device="cpu")), _q(model))
    # pasta run: the same session from the repo as from the folder
    by_repo = cli_runner.invoke([*RUN, "--value-model", "hf://me/fox-value", "--out", str(tmp_path / "a")])
    by_folder = cli_runner.invoke([*RUN, "--value-model", str(folder), "--out", str(tmp_path / "b")])
    assert by_repo.exit_code == 0 and by_folder.exit_code == 0, by_repo.output + by_folder.output
    assert _shown(tmp_path / "a") == _shown(tmp_path / "b") != []
    (session,) = (tmp_path / "a").glob("*/session.json")
    commit = Path(resolve_model("hf://me/fox-value", "value-model", plugins)).name
    assert f"hf://me/fox-value@{commit}" in session.read_text()  # recorded at its commit: resume loads the same model
    assert resolve_model(f"hf://me/fox-value@{commit}", "value-model", plugins).endswith(commit)  # what resume loads
    assert pinned("hf://me/fox-value@main", "value-model", plugins) == "hf://me/fox-value@main"  # a revision given
    assert pinned(str(folder), "value-model", plugins) == str(folder)
    by_option = cli_runner.invoke([*RUN, "--selector-option", "model=me/fox-value", "--out", str(tmp_path / "c")])
    assert by_option.exit_code == 0 and _shown(tmp_path / "c") == _shown(tmp_path / "b")  # as a web arm passes it


def test_a_pushed_user_model_loads_by_repo_id_in_the_commands_and_the_web_app(cli_runner, tmp_path, hub,
                                                                               monkeypatch) -> None:
    from pasta_clip_em.usermodel import create_user_model
    from pasta_web.belief import build_user_model

    plugins = get_plugins()
    folder = create_user_model(types=3, encoder="embedded", dim=16, seed=2, plugins=plugins).save_pretrained(tmp_path / "um")
    assert cli_runner.invoke(["user-model", "push", str(folder), "me/users", "--endpoint", hub.url]).exit_code == 0
    shown = cli_runner.invoke(["user-model", "show", "hf://me/users"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == json.loads(cli_runner.invoke(["user-model", "show", str(folder)]).stdout)
    simulated = cli_runner.invoke(["simulate", "-n", "2", "--turns", "2", "--quiet", "--user-model", "me/users",
                                   "--save-images", "--out", str(tmp_path / "sim")])
    assert simulated.exit_code == 0, simulated.output
    belief = build_user_model(plugins, "hf://me/users", {})
    assert np.allclose(belief.prior, create_user_model(path=str(folder), plugins=plugins).prior)
    snapshot = Path(resolve_model("hf://me/users", "user-model", plugins))
    before = sorted(p.name for p in snapshot.iterdir())
    (shard,) = (tmp_path / "sim").glob("*.parquet")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    evaluated = cli_runner.invoke(["user-model", "eval", "hf://me/users", "--data", f"trajectories:{shard}"])
    assert evaluated.exit_code == 0, evaluated.output
    assert sorted(p.name for p in snapshot.iterdir()) == before  # nothing written into the Hub cache
    assert (tmp_path / "xdg" / "pasta" / "embeddings" / "me--users" / snapshot.name).is_dir()


def test_user_model_eval_caches_a_hub_model_outside_its_snapshot(cli_runner, tmp_path, hub, monkeypatch) -> None:
    """Without XDG_CACHE_HOME, ~/.cache/pasta/embeddings/OWNER--NAME/COMMIT, the same folder
    for every way of naming the repo; --cache wins; the snapshot folder is never written."""
    from pasta_clip_em.usermodel import create_user_model
    from tests.user_model.fixtures import write_trajectories

    folder = create_user_model(types=2, encoder="embedded", dim=16, seed=1, plugins=get_plugins()).save_pretrained(
        tmp_path / "um")
    assert cli_runner.invoke(["user-model", "push", str(folder), "me/users", "--endpoint", hub.url]).exit_code == 0
    snapshot = Path(resolve_model("hf://me/users", "user-model", get_plugins()))
    before = sorted(str(p) for p in snapshot.rglob("*"))
    data = f"trajectories:{write_trajectories(tmp_path / 'traj')}"
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # me/users is not a folder here
    cache = tmp_path / "home" / ".cache" / "pasta" / "embeddings" / "me--users" / snapshot.name
    outputs = []
    for name in ("hf://me/users", "me/users", "hf://me/users@main"):
        result = cli_runner.invoke(["user-model", "eval", name, "--data", data])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.output)["choice_accuracy"])
        assert len(list(cache.rglob("*.keys.npy"))) == 2  # text and image, computed once, then reused
    given = cli_runner.invoke(["user-model", "eval", "me/users", "--data", data, "--cache", str(tmp_path / "c")])
    assert given.exit_code == 0, given.output
    outputs.append(json.loads(given.output)["choice_accuracy"])
    assert len(set(outputs)) == 1 and len(list((tmp_path / "c").rglob("*.keys.npy"))) == 2
    assert sorted(str(p) for p in snapshot.rglob("*")) == before  # nothing written into the Hub cache


def test_an_unknown_repo_is_one_line_naming_it(cli_runner, tmp_path, hub) -> None:
    result = cli_runner.invoke([*RUN, "--value-model", "hf://me/nothing", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: hf://me/nothing: no value-model repo me/nothing on the Hugging Face Hub ({hub.url}), or it is "
        "private; check the name, or log in (hf auth login, or HF_TOKEN)")
    result = cli_runner.invoke(["user-model", "show", "runs/typo"])  # a mistyped folder reads as a repo id
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "no user model repo runs/typo" in result.output and "runs/typo is not a folder" in result.output


def test_offline_a_cached_repo_loads_and_an_uncached_one_says_so(cli_runner, tmp_path, hub, monkeypatch) -> None:
    model, _ = _pushed_value_model(cli_runner, tmp_path, hub)
    plugins = get_plugins()
    online = resolve_model("hf://me/fox-value", "value-model", plugins)
    hub.server.shutdown()  # no Hub any more, and HF_HUB_OFFLINE=1
    _offline(monkeypatch)
    assert resolve_model("hf://me/fox-value", "value-model", plugins) == online
    assert np.array_equal(_q(plugins.load("value-model", online, device="cpu")), _q(model))
    result = cli_runner.invoke([*RUN, "--value-model", "hf://me/fox-value", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    result = cli_runner.invoke([*RUN, "--value-model", "hf://me/other", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "hf://me/other: the Hub repo me/other is not in the Hugging Face cache" in result.output
    assert "HF_HUB_OFFLINE=1" in result.output


def test_without_the_hub_extra_a_repo_id_is_one_line_naming_the_fix(cli_runner, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    result = cli_runner.invoke(["run", "--user", "sim", "--user-model", "hf://me/users", "--turns", "1",
                                "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: hf://me/users: loading a user-model from the Hugging Face Hub needs "
                                     "huggingface-hub; install it with: pip install 'pasta-t2i[hub]'")
