"""The causal-LM value model on a tiny Gemma (config + offline-trained tokenizer)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pasta_core.iql import IQLConfig, build_transitions, train_iql  # noqa: E402
from pasta_core.plugins import get_plugins  # noqa: E402
from pasta_core.types import Candidate, History, Turn  # noqa: E402
from pasta_selectors import RandomSelector  # noqa: E402
from pasta_value.causal_lm import create_causal_lm  # noqa: E402
from pasta_value.synthetic import WordWorld  # noqa: E402

A = Candidate("a white cat", "rephrase")
B = Candidate("an oil painting of a white cat at dusk", "style")
C = Candidate("cat", "twist")
H0 = History("a white cat")
H1 = H0.append(Turn([A, B, C], [A, B], 1, critique="more colour"))


@pytest.fixture
def model(tiny_lm):
    return create_causal_lm(path=str(tiny_lm))


def test_value_of_a_pair_does_not_depend_on_its_batch(model) -> None:
    """Left padding with position ids from the mask: same numbers alone and in a batch."""
    together = model.q_values([H1, H1, H0], [A, B, C])
    alone = [model.q_values([h], [c])[0] for h, c in [(H1, A), (H1, B), (H0, C)]]
    assert np.allclose(together, alone, atol=1e-5)
    assert len(set(np.round(together, 6))) == 3


def test_one_pass_gives_v_and_every_prefix(model) -> None:
    """V(h) read inside the (h, p) sequence equals V(h) alone; the last prefix Q is Q."""
    prepared = model.prepare([H0, H1], [A, B, C])
    hi, ci = torch.tensor([0, 1, 1]), torch.tensor([2, 0, 1])
    with torch.no_grad():
        out = model.pair_outputs(model.module, prepared, hi, ci, token_level=True)
        alone = model.history_values(model.module, prepared, hi)
    assert torch.allclose(out.v, alone, atol=1e-5)
    assert torch.allclose(out.token_q[:, -1], out.q)
    lengths = [len(prepared.candidates[int(j)]) for j in ci]
    assert out.token_mask.sum(1).tolist() == lengths
    assert np.allclose(model.values([H0, H1, H1]), alone.numpy(), atol=1e-5)


def test_long_histories_keep_the_newest_tokens(tiny_lm) -> None:
    """Past max_length the oldest history tokens go; the candidate is always read."""
    short = create_causal_lm(path=str(tiny_lm), max_length=24)
    q = short.q_values([H1], [B])
    assert np.isfinite(q).all()
    prepared = short.prepare([H1], [B])
    assert len(short._fit(prepared.histories[0], prepared.candidates[0])) == 24


def test_token_level_training_and_checkpoint_round_trip(tiny_lm, tmp_path) -> None:
    """A few token-level IQL steps change the weights; the checkpoint reloads them."""
    world = WordWorld(turns=2, categories=3, per_category=2, slate_size=2)
    episodes = world.episodes(RandomSelector(), 6, seed=0)
    data = build_transitions(episodes, [t.rewards for t in episodes])
    model = create_causal_lm(path=str(tiny_lm))
    before = model.q_values([H1], [B])
    config = IQLConfig(steps=3, batch_size=8, lr=1e-2, token_level=True, save_every=3)
    train_iql(model, data, config, out=tmp_path, progress=False)
    after = model.q_values([H1], [B])
    assert not np.allclose(before, after)
    loaded = get_plugins().load("value-model", tmp_path)
    assert loaded.plugin == "causal-lm"
    assert np.allclose(loaded.q_values([H1, H0], [B, C]), model.q_values([H1, H0], [B, C]), atol=1e-5)


def test_causal_lm_needs_a_model_folder(tmp_path) -> None:
    """No folder, or a folder without a model, gives an error naming what to pass."""
    from pasta_core.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="path=FOLDER"):
        create_causal_lm()
    with pytest.raises(InvalidValueError, match="no config.json"):
        create_causal_lm(path=str(tmp_path))


def test_a_damaged_or_diverged_model_folder_is_refused_naming_it(tiny_lm, tmp_path) -> None:
    """A truncated weights file, a diverged (NaN) weight or a corrupt config.json of the LM
    folder is refused with a message naming it, before any value is computed."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from pasta_checkpoints import CheckpointError

    folder = shutil.copytree(tiny_lm, tmp_path / "lm")
    (weights,) = folder.glob("*.safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        create_causal_lm(path=str(folder))
    weights.write_bytes(data)
    tensors = load_file(str(weights))
    name = sorted(tensors)[0]
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(weights), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="non-finite"):
        create_causal_lm(path=str(folder))
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        create_causal_lm(path=str(folder))
