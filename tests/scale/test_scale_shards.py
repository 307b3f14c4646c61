"""The shard files of a simulation: their names, and which are finished."""

from __future__ import annotations

from pasta_core.store import read_trajectories, write_trajectories
from pasta_core.types import Candidate, Trajectory, Turn
from pasta_simulate.shards import finished_shards, shard_name


def _trajectory(session_id: str) -> Trajectory:
    slate = [Candidate("a cat", "style"), Candidate("a calm cat", "mood")]
    return Trajectory(session_id, "a cat", [Turn(slate, slate, 1, seeds=[[1], [2]])])


def test_shards_are_numbered_files_a_folder_read_returns_in_order(tmp_path):
    items = [_trajectory(f"s{i}") for i in range(5)]
    for shard in (2, 0, 1):  # written out of order, as parallel workers finish
        write_trajectories(tmp_path / shard_name(shard), items[2 * shard : 2 * shard + 2])
    (tmp_path / "simulation.json").write_text("{}")
    assert shard_name(12) == "part-00012.parquet"
    assert finished_shards(tmp_path) == [0, 1, 2]
    assert [t.session_id for t in read_trajectories(tmp_path)] == [f"s{i}" for i in range(5)]


def test_an_empty_folder_has_no_finished_shard(tmp_path):
    assert finished_shards(tmp_path) == []
