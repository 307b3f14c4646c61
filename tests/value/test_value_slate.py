"""The value-slate selector: the joint slate search, the type posterior, the contract."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasta_core.errors import InvalidValueError
from pasta_core.testing.conformance import check_selector
from pasta_core.types import Candidate, History, Turn
from pasta_value.slate import (
    SlateValueSelector,
    TypePosterior,
    joint_slate,
    slate_values,
    type_model_folders,
)


def _brute_force(values, posterior, categories, size, temperature):
    best = -np.inf
    n = min(size, len(set(categories)))
    for combo in itertools.combinations(range(len(categories)), n):
        if len({categories[i] for i in combo}) == n:
            best = max(best, float(slate_values(values, posterior, np.array([combo]), temperature)[0]))
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.lists(st.sampled_from("abcd"), min_size=1, max_size=9), st.integers(1, 4),
       st.sampled_from([0.0, 0.3]), st.integers(0, 10**6))
def test_joint_slate_is_the_best_slate(types, categories, size, temperature, seed):
    """Exhaustive search and the greedy fallback return valid slates; the exhaustive one
    reaches the best q(h, S) of all valid slates."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(types, len(categories)))
    posterior = rng.dirichlet(np.ones(types))
    picked = joint_slate(values, posterior, categories, size, temperature)
    n = min(size, len(set(categories)))
    assert len(picked) == n and len({categories[i] for i in picked}) == n
    q = float(slate_values(values, posterior, np.array([picked]), temperature)[0])
    assert q == pytest.approx(_brute_force(values, posterior, categories, size, temperature))
    greedy = joint_slate(values, posterior, categories, size, temperature, max_slates=0)
    assert len(greedy) == n and len({categories[i] for i in greedy}) == n


def test_an_unsure_agent_offers_each_type_its_best():
    """Two equally likely types, each loving a different candidate and a compromise liked
    by both: the one-by-one rule takes the compromises, the joint slate one of each."""
    values = np.array([[1.0, 0.0, 0.6, 0.6],
                       [0.0, 1.0, 0.6, 0.6]])
    categories = ["a", "b", "c", "d"]
    picked = joint_slate(values, np.array([0.5, 0.5]), categories, 2)
    assert sorted(picked) == [0, 1]
    # Sure of type 0, the best slate holds its favourite.
    assert 0 in joint_slate(values, np.array([1.0, 0.0]), categories, 2)


def test_joint_slate_refuses_mismatched_shapes():
    with pytest.raises(InvalidValueError):
        joint_slate(np.zeros((2, 3)), np.array([1.0]), ["a", "b", "c"], 2)


class TypeScores:
    """A fake value model: f_k(h, p) from the candidate text's hash and a per-type offset."""

    plugin = "fake"

    def __init__(self, k):
        self.k = k

    def q_values(self, histories, candidates):
        return np.array([((hash(c.text) + 7919 * self.k) % 997) / 997 for c in candidates])


class TwoTypes:
    """A fake user model: type 0 picks column 0, type 1 column 1 (prob 0.9)."""

    num_types = 2
    prior = np.array([0.5, 0.5])

    def __init__(self):
        self.calls = 0

    def choice_probabilities(self, intent, columns):
        self.calls += 1
        p = np.full((2, len(columns)), 0.1 / max(len(columns) - 1, 1))
        p[0, 0], p[1, 1 % len(columns)] = 0.9, 0.9
        return p


class Renderer:
    def __init__(self):
        self.images = 0

    def render(self, prompts, seeds):
        from PIL import Image

        self.images += len(prompts)
        return [Image.new("RGB", (4, 4)) for _ in prompts]


def _turn(choice, seeds=((1, 2), (3, 4))):
    slate = (Candidate("x one", "c1"), Candidate("y two", "c2"))
    return Turn(candidates=slate, slate=slate, choice=choice, seeds=seeds)


def test_type_posterior_counts_each_turn_once():
    """The posterior follows the choices, and a longer history reuses its parent's."""
    user, t2i = TwoTypes(), Renderer()
    posterior = TypePosterior(user, t2i)
    h1 = History("a cat", (_turn(0),))
    h2 = h1.append(_turn(0))
    assert posterior(History("a cat")) == pytest.approx([0.5, 0.5])
    assert posterior(h1)[0] == pytest.approx(0.9)
    assert posterior(h2)[0] == pytest.approx(0.81 / (0.81 + 0.01))
    assert user.calls == 2 and t2i.images == 8
    no_seeds = History("a cat", (_turn(1, seeds=((), ())),))
    assert posterior(no_seeds) == pytest.approx([0.5, 0.5])  # images unknown: nothing learned


def test_slate_selector_follows_the_selector_contract():
    selector = SlateValueSelector([TypeScores(0), TypeScores(1)], TwoTypes(), Renderer())
    check_selector(selector, max_examples=30)


def test_slate_selector_needs_one_model_per_type(tmp_path):
    with pytest.raises(InvalidValueError, match="one per type"):
        SlateValueSelector([TypeScores(0)], TwoTypes(), Renderer())
    with pytest.raises(InvalidValueError, match="type-0"):
        type_model_folders(tmp_path)
    (tmp_path / "type-0").mkdir()
    (tmp_path / "type-2").mkdir()
    with pytest.raises(InvalidValueError):
        type_model_folders(tmp_path)
    (tmp_path / "type-1").mkdir()
    assert [p.name for p in type_model_folders(tmp_path)] == ["type-0", "type-1", "type-2"]



def test_models_sharing_an_encoder_prepare_once(monkeypatch):
    """q_values_of_models gives each model's own q_values, preparing the inputs once when
    the models share their encoder (and once per model when they do not)."""
    from pasta_value.embedded import EmbeddedValueModel, create_embedded
    from pasta_value.torch_model import q_values_of_models

    models = [create_embedded(encoder="words", dim=16, width=8, seed=s) for s in range(3)]
    other = create_embedded(encoder="hash", dim=16, width=8, seed=0)
    history = History("a cat on a mat", (_turn(0),))
    candidates = [Candidate(f"a cat number {i}", f"c{i % 3}") for i in range(7)]
    calls = []
    original = EmbeddedValueModel.prepare
    monkeypatch.setattr(EmbeddedValueModel, "prepare", lambda self, h, c: calls.append(1) or original(self, h, c))
    q = q_values_of_models(models, [history] * 7, candidates)
    assert q.shape == (3, 7) and len(calls) == 1
    for row, model in zip(q, models):
        assert np.allclose(row, model.q_values([history] * 7, candidates), atol=1e-6)
    assert not np.allclose(q[0], q[1])
    calls.clear()
    mixed = q_values_of_models([models[0], other], [history] * 7, candidates)
    assert len(calls) == 2 and np.allclose(mixed[1], other.q_values([history] * 7, candidates), atol=1e-6)


def test_plugin_loads_checkpoints_and_runs_a_session(tmp_path):
    """`create("selector", "value-slate", models=DIR, user_model=DIR)` loads one value model
    per type and a clip-em checkpoint, and drives a whole session with a simulated user."""
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_core.config import EpisodeConfig
    from pasta_core.engine import Agent, run_episodes
    from pasta_core.plugins import get_plugins
    from pasta_users import SimulatedUser
    from pasta_value.embedded import create_embedded

    plugins = get_plugins()
    user_model = plugins.create("user-model", "clip-em", types=2, dim=16, seed=1)
    save_checkpoint(tmp_path / "um", user_model.model, user_model.prior)
    for k in range(2):
        create_embedded(encoder="words", dim=16, width=8, seed=k).save(tmp_path / "types" / f"type-{k}")
    selector = plugins.create("selector", "value-slate", models=str(tmp_path / "types"),
                              user_model=str(tmp_path / "um"), size=32, temperature=0.2)
    assert len(selector.type_models) == 2 and selector.temperature == 0.2
    agent = Agent(plugins.create("generator", "template"), selector, plugins.create("t2i", "procedural", size=32))
    (trajectory,) = run_episodes(agent, [SimulatedUser(user_model, 1)], ["a red fox in the snow"],
                                 EpisodeConfig(turns=3), seeds=[5])
    assert len(trajectory.turns) == 3
    assert all(len({c.category for c in t.slate}) == len(t.slate) == 4 for t in trajectory.turns)
    assert len(selector.posterior._memo) == 2  # turns 1 and 2 counted once each
    with pytest.raises(InvalidValueError, match="models=DIR"):
        plugins.create("selector", "value-slate", models=str(tmp_path / "types"))
