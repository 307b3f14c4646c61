"""The batched episode runner."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core import EpisodeConfig, InvalidValueError
from pasta_core.episode import Agent, image_seeds, run_episodes
from pasta_core.testing import FakeGenerator, FakeSelector, FakeT2I, FakeUserModel
from pasta_core.users import SimulatedUser


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
    model = FakeUserModel(temperature=200.0)
    users = [SimulatedUser(model, 0) for _ in range(20)]
    agent = _agent()
    trajectories = run_episodes(agent, users, [f"p{i}" for i in range(20)], EpisodeConfig(turns=1), seeds=range(20))
    hits = 0
    for t in trajectories:
        turn = t.turns[0]
        reds = [agent.t2i.render([c.text], [0])[0].getpixel((0, 1))[0] for c in turn.slate]
        hits += turn.choice == int(np.argmax(reds))
    assert hits >= 18


def test_image_seeds_are_distinct():
    seeds = image_seeds(7, 2, 4, 4)
    flat = [s for column in seeds for s in column]
    assert len(set(flat)) == 16


def test_mismatched_users_and_prompts():
    with pytest.raises(InvalidValueError):
        run_episodes(_agent(), [], ["a"])
