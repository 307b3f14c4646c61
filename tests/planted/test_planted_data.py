"""Human-like sessions and Pick-a-Pic pairs from the planted world."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pasta_clip_em.datasets import read_pickapic, read_sessions
from pasta_core.plugins import get_plugins
from pasta_planted.config import parse_config
from pasta_planted.data import generate_pairs, generate_sessions
from pasta_planted.world import PlantedWorld

WORLD = {"world": {"seed": 1, "types": 3}, "sessions": {"turns": 3, "slate_size": 3, "images_per_prompt": 2}}


@pytest.fixture(scope="module")
def world() -> PlantedWorld:
    return PlantedWorld(parse_config(WORLD))


def test_sessions_carry_the_rater_answers(world: PlantedWorld, tmp_path) -> None:
    """Sessions have a choice, 1-5 satisfaction per column and a comparison from turn 2,
    hide the type (user_type empty) and keep it in the metadata; images resolve."""
    generate_sessions(world, tmp_path, count=4, seed=2, shard_size=2, progress=False, plugins=get_plugins())
    sessions = list(read_sessions(tmp_path))
    assert len(sessions) == 4
    for t in sessions:
        assert t.user_type is None and 0 <= t.metadata["planted_type"] < 3
        assert len(t.turns) == 3 and t.turns[0].comparison is None
        assert all(turn.comparison in ("better", "same", "worse") for turn in t.turns[1:])
        assert all(len(turn.satisfaction) == 3 and set(turn.satisfaction) <= {1, 2, 3, 4, 5} for turn in t.turns)
        assert len(t.metadata["true_utility"]) == 3


def test_pairs_in_pickapic_format(world: PlantedWorld, tmp_path) -> None:
    """Pairs have Pick-a-Pic's columns, rater ids and labels the reader accepts."""
    path = generate_pairs(world, tmp_path / "pairs.parquet", raters=3, pairs_per_rater=4, seed=0, progress=False,
                          plugins=get_plugins())
    table = pq.read_table(path)
    for column in ("caption", "jpg_0", "jpg_1", "label_0", "label_1", "user_id", "ranking_id", "planted_type"):
        assert column in table.column_names
    assert sorted(set(table["user_id"].to_pylist())) == [0, 1, 2]
    records = list(read_pickapic(path))
    assert len(records) == 12
    assert all(r.target in (0.0, 0.5, 1.0) for r in records)
