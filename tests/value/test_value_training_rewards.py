"""Training rewards from a session's turn utilities: sparse, dense and shaped."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasta_core.errors import InvalidValueError
from pasta_core.types import Candidate, Trajectory, Turn
from pasta_value.rewards import training_rewards, trajectory_rewards

utilities = st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=8)


def test_the_three_modes_on_one_session():
    u = [1.0, 3.0, 2.0, 5.0]
    assert training_rewards(u, "sparse") == [0.0, 0.0, 0.0, 5.0]
    assert training_rewards(u, "dense") == u
    assert training_rewards(u, "shaped") == [1.0, 2.0, -1.0, 3.0]
    assert training_rewards([], "shaped") == [] and training_rewards([], "sparse") == []


@given(utilities)
def test_shaped_rewards_sum_to_the_final_utility_at_every_prefix(u):
    """Potential-based shaping: from any turn on, the shaped rewards sum to the final utility
    minus the previous turn's, so (gamma = 1) every turn's candidates keep the sparse ranking."""
    shaped = training_rewards(u, "shaped")
    for t in range(len(u)):
        before = u[t - 1] if t else 0.0
        assert math.isclose(sum(shaped[t:]), u[-1] - before, rel_tol=1e-9, abs_tol=1e-9)


def _session(rewards):
    slate = (Candidate("a red cat", "colour"), Candidate("a cat at dusk", "light"))
    turns = [Turn(candidates=slate, slate=slate, choice=0, reward=r) for r in rewards]
    return Trajectory(session_id="s", initial_prompt="a cat", turns=turns)


def test_recorded_rewards_are_shaped_and_unknown_modes_are_one_line():
    assert trajectory_rewards(_session([0.5, 1.5, 1.0]), "shaped") == [0.5, 1.0, -0.5]
    with pytest.raises(InvalidValueError, match="reward mode must be one of"):
        trajectory_rewards(_session([1.0]), "final")
    with pytest.raises(InvalidValueError, match="no recorded shaped reward"):
        trajectory_rewards(_session([None, 1.0]), "shaped")


def test_files_simulated_with_sparse_rewards_are_refused_for_every_turn_modes(tmp_path):
    """A simulation recorded with sparse rewards holds 0 before the last turn, which are not
    utilities: dense or shaped training on it is one line; sparse reads it as before."""
    import json

    from pasta_core.store import write_trajectories
    from pasta_value.rewards import load_rewarded

    write_trajectories(tmp_path / "part-00000.parquet", [_session([0.0, 0.0, 2.0])])
    (tmp_path / "simulation.json").write_text(json.dumps({"reward_mode": "sparse"}), encoding="utf-8")
    assert load_rewarded([tmp_path], "sparse")[1] == [[0.0, 0.0, 2.0]]
    for mode in ("dense", "shaped"):
        with pytest.raises(InvalidValueError, match="simulated with sparse rewards"):
            load_rewarded([tmp_path], mode)
    (tmp_path / "simulation.json").write_text(json.dumps({"reward_mode": "dense"}), encoding="utf-8")
    assert load_rewarded([tmp_path], "shaped")[1] == [[0.0, 0.0, 2.0]]


def test_sessions_played_with_sparse_rewards_are_refused_for_every_turn_modes(tmp_path):
    """A `pasta run --user sim` session folder records its reward mode in session.json's
    config: a sparse one holds 0 before the last turn, refused for dense or shaped training;
    a person's session (no simulated user) records no reward and is not judged by it."""
    import json

    from pasta_core.store import write_trajectories
    from pasta_value.provenance import recorded_mode
    from pasta_value.rewards import load_rewarded

    write_trajectories(tmp_path / "trajectory.parquet", [_session([0.0, 0.0, 2.0])])
    state = {"user": {"kind": "sim", "model": "simple"}, "config": {"reward_mode": "sparse"}}
    (tmp_path / "session.json").write_text(json.dumps(state), encoding="utf-8")
    assert load_rewarded([tmp_path], "sparse")[1] == [[0.0, 0.0, 2.0]]
    with pytest.raises(InvalidValueError, match="simulated with sparse rewards"):
        load_rewarded([tmp_path], "shaped")
    state["user"] = {"kind": "human"}
    (tmp_path / "session.json").write_text(json.dumps(state), encoding="utf-8")
    assert recorded_mode(tmp_path / "trajectory.parquet") is None
