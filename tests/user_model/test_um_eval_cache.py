"""Where ``pasta user-model eval`` keeps its embedding cache: CHECKPOINT/embeddings for a
local checkpoint folder, the --cache folder when given (a Hub repo's default, PASTA's own
cache folder, is tested against the stub Hub in tests/tracking/test_tracking_hub_load.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from pasta_clip_em.cli import _evaluate, default_cache  # noqa: E402
from pasta_core.plugins import get_plugins  # noqa: E402
from tests.user_model.fixtures import write_trajectories  # noqa: E402


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    from pasta_clip_em.usermodel import create_user_model

    model = create_user_model(types=2, encoder="embedded", dim=16, seed=1, plugins=get_plugins())
    return Path(model.save_pretrained(tmp_path / "um"))


def test_a_local_checkpoint_caches_in_its_folder_or_in_the_cache_given(
    cli_runner, tmp_path, checkpoint, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data = f"trajectories:{write_trajectories(tmp_path / 'traj')}"
    shipped = _files(checkpoint)
    result = cli_runner.invoke(["user-model", "eval", str(checkpoint), "--data", data])
    assert result.exit_code == 0, result.output
    assert "choice_accuracy" in json.loads(result.output)
    assert default_cache(str(checkpoint), str(checkpoint)) == checkpoint / "embeddings"
    cached = [f for f in _files(checkpoint) if f not in shipped]
    assert cached and all(f.startswith("embeddings/") for f in cached)
    assert any(f.endswith(".keys.npy") for f in cached)
    assert not (tmp_path / "xdg").exists()  # PASTA's cache folder is for Hub repos only

    other = tmp_path / "elsewhere"
    again = cli_runner.invoke(
        ["user-model", "eval", str(checkpoint), "--data", data, "--cache", str(other)]
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == json.loads(result.output)
    assert any(f.endswith(".keys.npy") for f in _files(other))
    assert [f for f in _files(checkpoint) if f not in shipped] == cached  # the checkpoint untouched


def test_evaluate_has_no_cache_folder_of_its_own(tmp_path, checkpoint) -> None:
    """The caller picks the folder (--cache or default_cache); _evaluate once fell back to
    CHECKPOINT/embeddings, which for a Hub snapshot is inside the Hugging Face cache."""
    data = f"trajectories:{write_trajectories(tmp_path / 'traj')}"
    shipped = _files(checkpoint)
    with pytest.raises(TypeError):
        _evaluate(str(checkpoint), data, None, "cpu", False, get_plugins())
    assert _files(checkpoint) == shipped
