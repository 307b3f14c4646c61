"""The true oracle: the very images of every candidate at every position, the best slate.

Checked against exhaustive search over every slate rendered the way the engine renders it
(the episode's image streams), with the planted world's true utilities and choice model.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pasta_core.config import EpisodeConfig
from pasta_core.engine import render_slates
from pasta_core.streams import EpisodeStreams
from pasta_core.types import Candidate, History
from pasta_planted.config import parse_config
from pasta_planted.oracle import OracleSelector, SlateOracle, best_slate, slate_indices
from pasta_planted.world import PlantedWorld
from pasta_procedural import ProceduralT2I

PROMPT = "a house by a lake"
CANDIDATES = [
    Candidate("a house by a lake at sunset, warm light", "mood"),
    Candidate("a house by a lake in a dark storm", "mood"),
    Candidate("a house by a lake, pencil sketch", "style"),
    Candidate("a house by a lake, oil painting", "style"),
    Candidate("a tiny house by a huge lake, wide view", "composition"),
    Candidate("two red houses by a lake, close up", "composition"),
]


@pytest.fixture(scope="module")
def world() -> PlantedWorld:
    return PlantedWorld(parse_config({"world": {"seed": 3, "types": 4, "choice_temperature": 0.3}}))


def expected_chosen_utility(world: PlantedWorld, utilities: np.ndarray) -> np.ndarray:
    """E[utility of the chosen column] under each type: utilities (K, L) -> (K,)."""
    probs = world.choice_probabilities(utilities)
    return (probs * utilities).sum(axis=1)


def exhaustive(world: PlantedWorld, t2i: ProceduralT2I, turn: int, seed: int, slate_size: int,
               images: int) -> dict[tuple[str, ...], np.ndarray]:
    """Every slate (one candidate per category, in order), rendered as the engine renders
    it on ``turn`` of the episode seeded ``seed``: its expected chosen utility per type."""
    seeds = EpisodeStreams(seed).images(turn, slate_size, images)
    out = {}
    for slate in itertools.permutations(CANDIDATES, slate_size):
        if len({c.category for c in slate}) < slate_size:
            continue
        (columns,) = render_slates(t2i, [slate], [seeds])
        out[tuple(c.text for c in slate)] = expected_chosen_utility(world, world.utilities(PROMPT, columns))
    return out


@pytest.mark.parametrize("slate_size,images,seed", [(2, 2, 11), (3, 1, 5), (3, 2, 8)])
def test_oracle_equals_exhaustive_search(world: PlantedWorld, slate_size: int, images: int, seed: int) -> None:
    """For every type the oracle's slate is the best of all slates rendered with the
    episode's seeds, and the value it searched with is that slate's true value."""
    t2i = ProceduralT2I(size=64)
    values = exhaustive(world, t2i, 1, seed, slate_size, images)
    assert len(values) == len(slate_indices(tuple(c.category for c in CANDIDATES), slate_size))
    for k in range(world.num_types):
        oracle = SlateOracle(world, k, seed, images, t2i=t2i)
        slate = oracle.select(History(PROMPT), CANDIDATES, slate_size, seed=0)
        best = max(v[k] for v in values.values())
        assert values[tuple(c.text for c in slate)][k] == pytest.approx(best, abs=1e-9)
        assert oracle.values[-1] == pytest.approx(best, abs=1e-9)
    # positions matter: the same candidates in another order are other images
    some = next(iter(values))
    assert any(not np.allclose(values[some], values[perm])
               for perm in itertools.permutations(some) if perm != some and perm in values)


def test_best_slate_mixes_types_like_exhaustive_search(world: PlantedWorld) -> None:
    """With a posterior over types (posterior-slate), the search maximises the mixed value."""
    rng = np.random.default_rng(0)
    u = rng.normal(size=(world.num_types, len(CANDIDATES), 3))
    weights = np.array([0.5, 0.3, 0.2, 0.0])
    slate, value = best_slate(world, u, CANDIDATES, 3, weights)
    brute = []
    for idx in itertools.permutations(range(len(CANDIDATES)), 3):
        if len({CANDIDATES[i].category for i in idx}) < 3:
            continue
        cols = u[:, list(idx), np.arange(3)]
        brute.append((float(weights @ expected_chosen_utility(world, cols)), idx))
    top, idx = max(brute)
    assert value == pytest.approx(top)
    assert [c.text for c in slate] == [CANDIDATES[i].text for i in idx]


def test_no_agent_beats_the_oracle_on_a_turn(world: PlantedWorld) -> None:
    """Through the engine: on turn 1 (same candidates and image seeds for every agent) the
    oracle's expected utility is at least that of the random selector and the old greedy
    oracle on every episode, and equals the value its search found."""
    from pasta_core.plugins import get_plugins
    from pasta_planted.episodes import run_planted_episodes
    from pasta_selectors import RandomSelector

    plugins = get_plugins()
    generator = plugins.create("generator", "template")
    t2i = ProceduralT2I(size=64)
    config = EpisodeConfig(turns=2, slate_size=3, images_per_prompt=2)
    types, seeds = [0, 1, 2, 3, 1, 2], [101, 102, 103, 104, 105, 106]
    prompts = ["a white cat", "a castle on a hill", "a bowl of fruit", "a city street", "a red car", "a forest"]

    def run(selectors: list) -> list[list[float]]:
        batch = run_planted_episodes(world, generator, selectors, t2i, prompts, types, seeds,
                                     [f"e{i}" for i in range(len(types))], config)
        return [t.metadata["expected_utility"] for t in batch.trajectories]

    oracles = [SlateOracle(world, k, s, config.images_per_prompt, t2i=t2i) for k, s in zip(types, seeds)]
    best = run(oracles)
    for o, b in zip(oracles, best):
        assert o.values[0] == pytest.approx(b[0], abs=1e-5)
    for others in ([RandomSelector() for _ in types], [OracleSelector(world, k, t2i=t2i) for k in types]):
        for b, e in zip(best, run(others)):
            assert b[0] >= e[0] - 1e-5
