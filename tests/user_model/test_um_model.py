"""Score model, choice probabilities, posterior, the clip-em plugin and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from pasta_clip_em.config import ModelConfig
from pasta_clip_em.model import build_model
from pasta_core import Candidate, Column
from pasta_core.errors import InvalidValueError


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.new("RGB", (16, 16), tuple(int(c) for c in rng.integers(0, 255, 3))) for _ in range(n)]


def _columns(n=3, m=2, seed=0):
    images = _images(n * m, seed)
    return [Column(Candidate(f"p{j}", f"c{j}"), images[j * m:(j + 1) * m], list(range(m))) for j in range(n)]


def test_score_is_the_score_scale_times_cosine_of_offset_embeddings():
    model = build_model(ModelConfig(dim=8, types=2, score_scale=7.0), seed=0)
    text, images = torch.randn(8), torch.randn(5, 8)
    scores = model.score_matrix(text, images)
    assert scores.shape == (2, 5)
    t_off = model.text.heads(model.text.body(text[None]))[0].view(2, 8)
    i_off = model.image.heads(model.image.body(images)).view(5, 2, 8)
    for k in range(2):
        a = torch.nn.functional.normalize(text + t_off[k], dim=-1)
        b = torch.nn.functional.normalize(images + i_off[:, k], dim=-1)
        assert torch.allclose(scores[k], 7.0 * b @ a, atol=1e-5)


@pytest.mark.parametrize("types", [1, 64])
def test_types_from_1_to_64(types):
    model = build_model(ModelConfig(dim=4, types=types, hidden=8))
    assert model.score_matrix(torch.randn(4), torch.randn(3, 4)).shape == (types, 3)


@pytest.mark.parametrize("types", [0, 65])
def test_types_out_of_range_are_refused(types):
    with pytest.raises(InvalidValueError, match="1..64"):
        ModelConfig(dim=4, types=types)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=st.floats(-50, 50, width=32)),
       st.floats(-3, 3), st.floats(-3, 3))
def test_choice_probabilities_keep_the_order_of_utilities(utilities, log_tau, spread):
    from pasta_clip_em.usermodel import choice_probabilities

    model = build_model(ModelConfig(dim=4, types=2))
    with torch.no_grad():
        model.log_tau.fill_(log_tau)
        model.spread.fill_(spread)
    probs = choice_probabilities(model, utilities)
    assert np.allclose(probs.sum(axis=1), 1.0)
    for u, p in zip(utilities, probs):
        order = np.argsort(u, kind="stable")
        assert np.all(np.diff(p[order]) >= -1e-9), "a column with higher utility is less likely"


def test_choice_scale_depends_on_the_scores():
    model = build_model(ModelConfig(dim=4, types=1))
    with torch.no_grad():
        model.spread.fill_(2.0)
    with torch.no_grad():
        narrow = model.choice_tau(torch.tensor([[0.0, 1.0]]))
        wide = model.choice_tau(torch.tensor([[0.0, 10.0]]))
    assert float(narrow) > float(wide) > 0


def test_clip_em_conforms_to_the_user_model_protocol(tiny_user_model):
    from pasta_core.testing import check_user_model

    check_user_model(tiny_user_model, max_examples=3)


def test_posterior_from_a_partial_session_moves_toward_the_chooser(tiny_user_model):
    columns = _columns(4, 2)
    probs = tiny_user_model.choice_probabilities("a cat", columns)
    k = 2
    observed = [(columns, int(np.argmax(probs[k] / probs.mean(0))))] * 6
    post = tiny_user_model.posterior("a cat", observed)
    assert post[k] > tiny_user_model.prior[k]
    assert np.allclose(tiny_user_model.posterior("a cat", []), tiny_user_model.prior)


def test_images_already_seen_are_not_encoded_again(tiny_user_model, hash_encoder):
    images = _images(4)
    tiny_user_model.scores("a cat", images)
    calls = hash_encoder.image_calls
    again = tiny_user_model.scores("a dog", images[:2] + images[:2])
    assert hash_encoder.image_calls == calls
    assert again.shape == (3, 4)


def test_checkpoint_round_trip_through_the_registry(tiny_user_model, tmp_path, monkeypatch):
    import json

    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_core import get_plugins

    save_checkpoint(tmp_path, tiny_user_model.model, tiny_user_model.prior)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["plugin"] == "clip-em" and (tmp_path / "model.safetensors").is_file()
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.pkl"))
    loaded = get_plugins().create("user-model", "clip-em", path=str(tmp_path))
    loaded._encoder = tiny_user_model.encoder
    images = _images(3)
    assert np.allclose(loaded.scores("x", images), tiny_user_model.scores("x", images), atol=1e-5)
    assert np.allclose(loaded.prior, tiny_user_model.prior)


def test_fresh_model_from_the_factory(embedded_encoder):
    from pasta_core import get_plugins

    model = get_plugins().create("user-model", "clip-em", types="3", dim="32")
    assert model.num_types == 3 and np.allclose(model.prior, 1 / 3)
    assert model.scores("a cat", _images(2)).shape == (3, 2)


def test_loading_a_folder_without_a_checkpoint_says_what_to_do(tmp_path):
    from pasta_clip_em.usermodel import create_user_model
    from pasta_core import get_plugins

    with pytest.raises(InvalidValueError, match="config.json"):
        create_user_model(path=str(tmp_path), plugins=get_plugins())


def test_personal_scorer_modes(tiny_user_model):
    from pasta_clip_em.scorer import PersonalScorer

    scorer = PersonalScorer(tiny_user_model)
    images = _images(5)
    all_types = scorer("a cat", images)
    assert all_types.shape == (3, 5)
    assert np.allclose(scorer("a cat", images, user_type=1), all_types[1])
    columns = _columns(3, 2, seed=4)
    post = tiny_user_model.posterior("a cat", [(columns, 0)])
    assert np.allclose(scorer("a cat", images, observed=[(columns, 0)]), post @ all_types)


def test_personal_scorer_loads_a_folder_from_the_plugin_set_it_is_given(tiny_user_model, tmp_path):
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_clip_em.scorer import PersonalScorer
    from pasta_core import get_plugins

    save_checkpoint(tmp_path, tiny_user_model.model, tiny_user_model.prior)
    scorer = PersonalScorer(str(tmp_path), plugins=get_plugins())
    assert np.allclose(scorer.user_model.prior, tiny_user_model.prior)
    with pytest.raises(InvalidValueError, match="plugins="):
        PersonalScorer(str(tmp_path))


def test_a_checkpoint_that_calls_its_score_scale_temperature_loads_unchanged(tiny_user_model, tmp_path):
    """Checkpoints written before the rename say "temperature" in config.json and
    "log_temperature" in model.safetensors: they load to the same model and scores."""
    import json

    from safetensors.torch import load_file, save_file

    from pasta_clip_em.checkpoint import MODEL_FILE, load_checkpoint, save_checkpoint

    with torch.no_grad():
        tiny_user_model.model.log_score_scale.fill_(2.5)  # a learned scale, not the initial one
    save_checkpoint(tmp_path, tiny_user_model.model, tiny_user_model.prior)
    config = json.loads((tmp_path / "config.json").read_text())
    config["temperature"] = config.pop("score_scale")
    (tmp_path / "config.json").write_text(json.dumps(config))
    tensors = load_file(str(tmp_path / MODEL_FILE))
    tensors["log_temperature"] = tensors.pop("log_score_scale")
    save_file(tensors, str(tmp_path / MODEL_FILE))
    model, prior, loaded_config = load_checkpoint(tmp_path)
    assert loaded_config.score_scale == tiny_user_model.config.score_scale
    assert float(model.score_scale.detach()) == pytest.approx(float(np.exp(2.5)))
    text, images = torch.randn(16), torch.randn(4, 16)
    with torch.no_grad():
        assert torch.equal(model.score_matrix(text, images), tiny_user_model.model.score_matrix(text, images))


def test_concurrent_calls_share_one_memory_and_never_call_the_encoder_at_once(tiny_user_model, hash_encoder):
    """Prefetch threads may call a user model at once (the protocols' concurrency contract):
    the results equal serial ones, and the encoder is entered by one thread at a time even
    while a small memory evicts rows."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    inside, overlaps = [0], []
    encode = hash_encoder.encode_images

    def guarded(images):
        inside[0] += 1
        overlaps.append(inside[0])
        time.sleep(0.001)
        try:
            return encode(images)
        finally:
            inside[0] -= 1

    hash_encoder.encode_images = guarded
    tiny_user_model.images_seen.capacity = 5
    images = _images(12, seed=3)
    serial = [tiny_user_model.scores("a cat", images[i:i + 4]) for i in range(0, 12, 2)]
    start = threading.Barrier(4)

    def run(_):
        start.wait()
        for _ in range(2):
            result = [tiny_user_model.scores("a cat", images[i:i + 4]) for i in range(0, 12, 2)]
        return result

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    assert max(overlaps) == 1
    for result in results:
        assert all(np.allclose(a, b) for a, b in zip(result, serial))


def test_a_checkpoint_from_before_the_satisfaction_likelihood_still_loads(tiny_user_model, tmp_path):
    from safetensors.torch import load_file, save_file

    from pasta_clip_em.checkpoint import MODEL_FILE, load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path, tiny_user_model.model, tiny_user_model.prior)
    tensors = load_file(str(tmp_path / MODEL_FILE))
    old = {k: v for k, v in tensors.items() if not k.startswith("satisfaction_")}
    save_file(old, str(tmp_path / MODEL_FILE))
    model, prior, _ = load_checkpoint(tmp_path)
    assert np.allclose(prior, tiny_user_model.prior)
    broken = {k: v for k, v in old.items() if k != "log_tau"}
    save_file(broken, str(tmp_path / MODEL_FILE))
    with pytest.raises(InvalidValueError, match="log_tau"):
        load_checkpoint(tmp_path)


def test_an_ordinal_satisfaction_model_round_trips_with_its_cut_points(tmp_path):
    import torch

    from pasta_clip_em.checkpoint import load_checkpoint, save_checkpoint
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.model import build_model

    model = build_model(ModelConfig(dim=8, types=2, satisfaction="ordinal"))
    with torch.no_grad():
        model.satisfaction_cuts.copy_(torch.tensor([-0.7, 0.3, -1.0, 2.0]))
    save_checkpoint(tmp_path, model, np.array([0.5, 0.5]))
    loaded, _, _ = load_checkpoint(tmp_path)
    assert loaded.config.satisfaction == "ordinal"
    assert torch.equal(loaded.satisfaction_cut_points(), model.satisfaction_cut_points())
    with pytest.raises(InvalidValueError, match="satisfaction must be one of"):
        ModelConfig(dim=8, satisfaction="poisson")
