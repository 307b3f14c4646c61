"""User-model factories build their parts from the plugin set they are created from (never
a global one), and the simple user model's multiplying factor is a scale."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pasta_core import Candidate, Column
from pasta_core.plugins import Plugins
from tests.user_model.conftest import HashEncoder


class SpyAggregator:
    """The mean, remembering that it was called."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, scores):
        self.calls += 1
        return np.mean(scores, axis=-1)


def _private_plugins(encoder=None):
    """Only the user-model plugins, an aggregator ``spy`` and an encoder ``hash``."""
    import pasta_clip_em
    import pasta_simuser
    from pasta_core.plugins import plugin_module

    own = plugin_module(
        "test-parts",
        pasta_register_aggregators=lambda register: register("spy", SpyAggregator),
        pasta_register_encoders=lambda register: register("hash", lambda **_: encoder or HashEncoder()),
    )
    return Plugins(entry_points=None, extra=[pasta_simuser, pasta_clip_em, own])


def _columns(n=3):
    return [Column(Candidate(f"p{j}", "c"), [Image.new("RGB", (16, 16), (40 * j, 90, 200 - 40 * j))], (0,))
            for j in range(n)]


@pytest.fixture
def no_global_plugins(monkeypatch):
    """Fail the test if anything asks for the process-wide plugin set."""
    import pasta_core.plugins

    def refuse(*args, **kwargs):
        raise AssertionError("a component fetched the global plugin set")

    monkeypatch.setattr(pasta_core.plugins, "get_plugins", refuse)


def test_the_simple_user_model_uses_the_aggregator_of_its_plugin_set(no_global_plugins):
    plugins = _private_plugins()
    model = plugins.create("user-model", "simple", types=3, aggregator="spy")
    assert isinstance(model.aggregator, SpyAggregator)
    model.utilities("a cat", _columns())
    assert model.aggregator.calls == 1


def test_the_simple_user_model_choice_scale_multiplies_and_temperature_is_its_old_name():
    plugins = _private_plugins()
    model = plugins.create("user-model", "simple", types=3, aggregator="spy")
    columns = _columns()
    u = model.utilities("a cat", columns)
    z = 20.0 * u  # the default scale, as before the rename
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    assert np.array_equal(model.choice_probabilities("a cat", columns), expected / expected.sum(axis=1, keepdims=True))
    with pytest.warns(FutureWarning, match="choice_scale"):
        old = plugins.create("user-model", "simple", types=3, aggregator="spy", temperature="7")
    assert old.choice_scale == 7.0
    new = plugins.create("user-model", "simple", types=3, aggregator="spy", choice_scale=7)
    assert np.array_equal(old.choice_probabilities("a cat", columns), new.choice_probabilities("a cat", columns))
    from pasta_core.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="choice_scale only"):
        plugins.create("user-model", "simple", temperature=1, choice_scale=2)


def test_clip_em_builds_its_encoder_and_aggregator_from_its_plugin_set(tmp_path, no_global_plugins):
    from pasta_clip_em.checkpoint import save_checkpoint

    encoder = HashEncoder()
    plugins = _private_plugins(encoder)
    fresh = plugins.create("user-model", "clip-em", types=2, encoder="hash", aggregator="spy")
    assert fresh.encoder is encoder and isinstance(fresh.aggregator, SpyAggregator)
    scores = fresh.scores("a cat", _columns()[0].images)
    assert scores.shape == (2, 1)
    save_checkpoint(tmp_path, fresh.model, fresh.prior)
    loaded = plugins.load("user-model", tmp_path)
    assert isinstance(loaded.aggregator, SpyAggregator)
    assert loaded.encoder is encoder  # built on first use, from the same private set
    assert np.allclose(loaded.scores("a cat", _columns()[0].images), scores, atol=1e-6)
