"""The world sampler: varied worlds, a pure function of (n, seed), disjoint sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pasta_planted.config import load_config
from pasta_planted.world import PlantedWorld
from pasta_planted.worlds import GROUPS, sample_world, world_files, write_worlds


def test_sampled_worlds_cover_the_ranges() -> None:
    worlds = [sample_world(3, i) for i in range(60)]
    types = [w["world"]["types"] for w in worlds]
    temperatures = [w["world"]["choice_temperature"] for w in worlds]
    assert min(types) >= 3 and max(types) <= 16 and len(set(types)) > 8
    assert min(temperatures) >= 0.3 and max(temperatures) <= 2.0
    assert min(temperatures) < 0.5 and max(temperatures) > 1.4
    skewed = [w for w in worlds if w["world"]["prior"] != "uniform"]
    assert [w["world"]["prior"] == "uniform" for w in worlds] == [i % 2 == 0 for i in range(60)]
    for w in skewed:
        prior = np.asarray(w["world"]["prior"])
        assert len(prior) == w["world"]["types"] and prior.max() / prior.min() > 1.5
    groups = np.array([[w["_drawn"]["group_weights"][g] for g in GROUPS] for w in worlds])
    assert groups.min() >= 1 / 3 - 1e-3 and groups.max() <= 3 + 1e-3
    assert len({tuple(np.argsort(g)) for g in groups}) >= 5  # every ordering of what matters most occurs
    factors = [w["_drawn"]["fidelity_factor"] for w in worlds]
    assert min(factors) < 0.5 and max(factors) > 2


def test_sets_are_pure_and_disjoint(tmp_path: Path) -> None:
    a = write_worlds(4, 1, tmp_path / "a")
    again = write_worlds(4, 1, tmp_path / "again")
    b = write_worlds(4, 2, tmp_path / "b")
    assert [p.read_text() for p in a] == [p.read_text() for p in again]
    seeds = lambda paths: {load_config(p).world.seed for p in paths}  # noqa: E731
    assert not seeds(a) & seeds(b)
    assert world_files(tmp_path / "a") == a and (tmp_path / "a" / "worlds.json").is_file()


def test_attribute_weights_shape_the_tastes(tmp_path: Path) -> None:
    """Tastes keep their length; a heavy group gets more of every type's taste."""
    (path,) = write_worlds(1, 5, tmp_path)
    world = PlantedWorld(load_config(path))
    config = world.config.utility
    assert np.allclose(np.linalg.norm(world.tastes, axis=1), config.taste_scale)
    weights = np.asarray(config.attribute_weights)
    plain = PlantedWorld(load_config(path).__class__(world=world.config.world))
    heavy, light = int(np.argmax(weights)), int(np.argmin(weights))
    ratio = lambda t: np.abs(t[:, heavy]).mean() / np.abs(t[:, light]).mean()  # noqa: E731
    assert weights[heavy] > weights[light] and ratio(world.tastes) > ratio(plain.tastes)
    assert world.describe()["attribute_weights"] == list(weights)


def test_a_written_world_carries_the_set_sizes(tmp_path: Path) -> None:
    """A set's world file holds SET_SIZES as its [bench] and SET_QUICK as its [bench.quick],
    read back as written (the EM settings too); the quick run keeps the single-world EM ones."""
    from pasta_planted.config import BenchConfig
    from pasta_planted.worlds import SET_QUICK, SET_SIZES

    (path,) = write_worlds(1, 3, tmp_path)
    config = load_config(path)
    assert {k: getattr(config.bench, k) for k in SET_SIZES} == SET_SIZES
    assert {k: getattr(config.quick, k) for k in SET_QUICK} == SET_QUICK
    assert (config.quick.em_lr, config.quick.em_weight_decay) == (BenchConfig().em_lr, BenchConfig().em_weight_decay)
