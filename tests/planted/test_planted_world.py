"""The planted world: configuration, measured attributes, Bayes-optimal choices."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core.errors import InvalidValueError
from pasta_core.testing.conformance import check_selector, check_user_model
from pasta_encoders.imagefeatures import image_features
from pasta_planted.config import load_config, parse_config
from pasta_planted.features import (
    measured_attributes,
    raw_attributes,
    standardize,
)
from pasta_planted.oracle import OracleSelector
from pasta_planted.usermodel import PlantedUserModel
from pasta_planted.world import PlantedWorld
from pasta_procedural import ProceduralT2I


@pytest.fixture(scope="module")
def world() -> PlantedWorld:
    return PlantedWorld(parse_config({"world": {"seed": 3, "types": 4, "choice_temperature": 0.3}}))


@pytest.fixture(scope="module")
def images() -> list:
    prompts = ["a red car at sunset", "a misty forest as a pencil sketch", "two dogs on a beach",
               "a neon city at night", "a bowl of fruit in watercolor", "a castle in bright sunny weather"]
    return ProceduralT2I(size=64).render(prompts * 2, list(range(12)))


def test_example_world_loads_and_matches_docs_copy() -> None:
    """The packaged world file parses and docs/examples/world.toml is the same file."""
    from pathlib import Path

    from pasta_planted.config import example_world_path

    config = load_config()
    assert config.world.types == 8 and config.world.prior == "uniform"
    docs = Path(__file__).parents[2] / "docs" / "examples" / "world.toml"
    assert docs.read_text() == example_world_path().read_text()


def test_config_rejects_bad_tables() -> None:
    """Unknown keys, a missing [world] and a prior of the wrong length are errors."""
    with pytest.raises(InvalidValueError, match="world"):
        parse_config({"utility": {}})
    with pytest.raises(InvalidValueError, match="unknown keys"):
        parse_config({"world": {"seed": 1, "tpyes": 3}})
    with pytest.raises(InvalidValueError, match="prior"):
        parse_config({"world": {"types": 3, "prior": [1, 2]}})
    with pytest.raises(InvalidValueError, match="value_slate_iql_share"):
        parse_config({"world": {"types": 3}, "bench": {"value_slate_iql_share": 0}})
    config = parse_config({"world": {"types": 3}, "bench": {"value_slate_iql_share": 0.5}})
    assert config.bench.value_slate_iql_share == 0.5 and config.quick.value_slate_iql_share == 1.0
    weighted = PlantedWorld(parse_config({"world": {"types": 3, "prior": [2, 1, 1]}}))
    assert np.allclose(weighted.prior, [0.5, 0.25, 0.25])


def test_fast_attributes_equal_feature_attributes(images: list) -> None:
    """Attributes measured straight from pixels equal those derived from the features."""
    slow = standardize(raw_attributes(image_features(images)))
    assert np.allclose(measured_attributes(images), slow, atol=1e-4)


def test_attributes_follow_the_prompt() -> None:
    """Measured on the image: 'bright' renders are brighter than 'dark' ones."""
    t2i = ProceduralT2I(size=64)
    bright = measured_attributes(t2i.render(["a bright sunny house"] * 4, range(4)))[:, 0]
    dark = measured_attributes(t2i.render(["a dark gloomy house"] * 4, range(4)))[:, 0]
    assert bright.mean() > dark.mean() + 0.5


def test_types_disagree(world: PlantedWorld, images: list) -> None:
    """Tastes are spread apart, so types rank the same images differently."""
    u = world.image_utilities("a red car", images)
    best = {int(np.argmax(row)) for row in u}
    assert len(best) >= 2
    cosines = world.tastes @ world.tastes.T / np.outer(*[np.linalg.norm(world.tastes, axis=1)] * 2)
    assert cosines[~np.eye(world.num_types, dtype=bool)].max() < 0.9


def test_bayes_optimal_choice_checked_by_sampling(world: PlantedWorld, images: list) -> None:
    """Sampling choices from the planted softmax: the claimed Bayes-optimal column is the
    most often chosen one and its claimed accuracy is the observed hit rate."""
    rng = np.random.default_rng(0)
    utilities = world.column_utilities(world.image_utilities("a red car", images), [3, 3, 3, 3])  # (K, 4)
    for posterior in (np.eye(world.num_types)[1], np.array([0.6, 0.3, 0.1, 0.0])):
        claimed = world.bayes_choice(utilities, posterior)
        claimed_accuracy = world.bayes_accuracy(utilities, posterior)
        n = 20_000
        types = rng.choice(world.num_types, size=n, p=posterior)
        probs = world.choice_probabilities(utilities)[types]
        choices = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        hit_rates = np.bincount(choices, minlength=4) / n
        assert int(np.argmax(hit_rates)) == claimed
        assert abs(hit_rates[claimed] - claimed_accuracy) < 4 * np.sqrt(0.25 / n)


def test_planted_user_model_conforms(world: PlantedWorld) -> None:
    """The planted user model satisfies the UserModel contract."""
    check_user_model(PlantedUserModel(world), ProceduralT2I(size=32), max_examples=3)


def test_oracle_conforms_and_prefers_the_types_taste(world: PlantedWorld) -> None:
    """The oracle is a valid selector, and its slate scores higher than the others."""
    from pasta_core.types import Candidate, History

    oracle = OracleSelector(world, 0, images=2, t2i=ProceduralT2I(size=32))
    check_selector(oracle, max_examples=5)
    candidates = [Candidate(f"a house {w}", c) for c in ("a", "b", "c") for w in ("at night", "in bright sunny weather", "as a pencil sketch")]
    slate = oracle.select(History("a house"), candidates, 2, seed=0)
    scores = dict(zip(candidates, oracle.candidate_utilities("a house", candidates, 0)))
    best = {c.category: max(s for d, s in scores.items() if d.category == c.category) for c in candidates}
    left_out = set(best) - {c.category for c in slate}
    assert min(scores[c] for c in slate) >= max(best[c] for c in left_out)
    for chosen in slate:
        same_category = [s for c, s in scores.items() if c.category == chosen.category]
        assert scores[chosen] == max(same_category)


def test_the_distill_teacher_is_one_of_the_known_agents():
    """``[bench] distill_teacher`` names the value-mixed agent or the planner; anything else is one line."""
    from pasta_core.errors import InvalidValueError
    from pasta_planted.config import BenchConfig

    assert BenchConfig(distill_teacher="user-model-slate").distill_teacher == "user-model-slate"
    with pytest.raises(InvalidValueError, match="distill_teacher must be one of"):
        BenchConfig(distill_teacher="value-human")
    with pytest.raises(InvalidValueError, match=r"distill_temperature must be in \[0, 10\]"):
        BenchConfig(distill_temperature=-1)


def test_the_value_stage_rewards_are_one_of_the_training_rewards():
    """``[bench] iql_rewards`` names a reward the value plugin trains on; anything else is one line."""
    from pasta_core.errors import InvalidValueError
    from pasta_planted.config import IQL_REWARDS, BenchConfig
    from pasta_value.rewards import TRAINING_REWARDS

    assert set(IQL_REWARDS) == set(TRAINING_REWARDS)
    assert BenchConfig(iql_rewards="shaped").iql_rewards == "shaped"
    with pytest.raises(InvalidValueError, match="iql_rewards must be one of"):
        BenchConfig(iql_rewards="final")
