"""The episode engine: the batched runner, the turn step and the named random streams."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core import EpisodeConfig, InvalidValueError
from pasta_core.engine import Agent, run_episodes
from pasta_core.streams import RUN_PURPOSES, TURN_PURPOSES, EpisodeStreams, run_seed
from pasta_core.testing import FakeGenerator, FakeSelector, FakeT2I, FakeUserModel
from pasta_users import SimulatedUser


def _agent():
    return Agent(FakeGenerator(), FakeSelector(), FakeT2I())


def test_one_t2i_call_per_turn_for_all_episodes():
    agent = _agent()
    model = FakeUserModel()
    users = [SimulatedUser(model, k % 3) for k in range(6)]
    result = run_episodes(agent, users, [f"prompt {i}" for i in range(6)], EpisodeConfig(turns=3))
    assert agent.t2i.calls == [6 * 4 * 4] * 3
    assert len(result) == 6 and all(len(t.turns) == 3 for t in result)
    assert [t.user_type for t in result] == [0, 1, 2, 0, 1, 2]


def test_slates_follow_the_rules_and_sparse_reward_is_last_turn_only():
    users = [SimulatedUser(FakeUserModel(), 0) for _ in range(3)]
    (t, *_) = run_episodes(_agent(), users, ["a", "b", "c"], EpisodeConfig(turns=4))
    for turn in t.turns:
        assert len(turn.slate) == 4
        assert len({c.category for c in turn.slate}) == 4
        assert len(turn.candidates) == 25
    assert t.rewards[:-1] == [0.0, 0.0, 0.0] and t.rewards[-1] > 0


def test_dense_reward_every_turn():
    users = [SimulatedUser(FakeUserModel(), 1)]
    (t,) = run_episodes(_agent(), users, ["a"], EpisodeConfig(turns=3, reward_mode="dense"))
    assert all(r is not None and r > 0 for r in t.rewards)


def test_reproducible_for_seeds():
    model = FakeUserModel()
    run = lambda: run_episodes(_agent(), [SimulatedUser(model, 2)] * 2, ["x", "y"], seeds=[5, 6])  # noqa: E731
    assert run() == run()


def test_choices_follow_the_user_model():
    """Type 0 likes red; with a sharp choice model it picks the reddest column nearly always."""
    model = FakeUserModel(choice_scale=200.0)
    users = [SimulatedUser(model, 0) for _ in range(20)]
    agent = _agent()
    trajectories = run_episodes(agent, users, [f"p{i}" for i in range(20)], EpisodeConfig(turns=1), seeds=range(20))
    hits = 0
    for t in trajectories:
        turn = t.turns[0]
        reds = [agent.t2i.render([c.text], [0])[0].getpixel((0, 1))[0] for c in turn.slate]
        hits += turn.choice == int(np.argmax(reds))
    assert hits >= 18


def _episode_seeds(seed: int, turns: int = 5, columns: int = 4, images: int = 4) -> list[int]:
    streams = EpisodeStreams(seed)
    out = []
    for t in range(1, turns + 1):
        out += [streams.generator(t), streams.selector(t), streams.choice(t), streams.rating(t)]
        out += [s for column in streams.images(t, columns, images) for s in column]
    return out


def test_no_two_streams_of_an_episode_share_a_seed():
    """Every purpose, turn, column and image of an episode has its own seed (2,000 episodes)."""
    for seed in range(2000):
        seeds = _episode_seeds(seed)
        assert len(set(seeds)) == len(seeds), seed
        assert all(0 <= s < 2**31 for s in seeds)


def test_run_level_streams_are_distinct_per_purpose_and_episode():
    seeds = [run_seed(3, purpose, i) for purpose in RUN_PURPOSES for i in range(500)]
    assert len(set(seeds)) == len(seeds)
    assert set(RUN_PURPOSES.values()).isdisjoint(TURN_PURPOSES.values())


class _FirstDrawT2I:
    """The worst case for a seed leak: each picture is the first uniform draw of its
    seed's numpy generator (a seeded renderer places things with exactly such draws)."""

    def render(self, prompts, seeds):
        from PIL import Image

        return [Image.new("L", (1, 1), int(255 * np.random.default_rng(s).random())) for s in seeds]


class _IndifferentUserModel(FakeUserModel):
    """Every column equally liked: a choice can only depend on the images through a leak."""

    def choice_probabilities(self, intent, columns):
        return np.full((self.num_types, len(columns)), 1 / len(columns))


def test_choices_do_not_depend_on_the_pixels_shown():
    """Over 3,000 simulated turns, choosing a column is uncorrelated with its first image
    (with the old padded seed derivation, column 4's choice draw was that image's seed)."""
    agent = Agent(FakeGenerator(), FakeSelector(), _FirstDrawT2I())
    model = _IndifferentUserModel()
    n = 600
    trajectories = run_episodes(agent, [SimulatedUser(model, 0)] * n, [f"p{i}" for i in range(n)],
                                EpisodeConfig(turns=5), seeds=range(n))
    picked, pixel = [], []
    for t in trajectories:
        for turn in t.turns:
            for c in range(len(turn.slate)):
                picked.append(float(turn.choice == c))
                pixel.append(np.random.default_rng(turn.seeds[c][0]).random())
    r = np.corrcoef(picked, pixel)[0, 1]
    assert abs(r) < 4 / np.sqrt(len(picked)), r


def test_mismatched_users_and_prompts():
    with pytest.raises(InvalidValueError):
        run_episodes(_agent(), [], ["a"])
