"""The planted world and its selectors use the plugin set they were made with."""

from __future__ import annotations

import numpy as np

import pasta_aggregators
from pasta_core.plugins import Plugins, plugin_module
from pasta_planted.config import parse_config
from pasta_planted.world import PlantedWorld

WORLD = {"world": {"seed": 3, "types": 2}, "utility": {"aggregator": "max"}}


class Halving:
    """A stand-in ``max`` that tells itself apart: half the mean."""

    def __call__(self, scores):
        return np.mean(scores, axis=-1) / 2


def _private() -> Plugins:
    mine = plugin_module("mine", pasta_register_aggregators=lambda register: register("max", Halving))
    return Plugins(entry_points=None, extra=[mine])


def test_the_world_aggregates_with_its_own_plugin_set():
    utilities = np.array([[1.0, 3.0, 2.0, 6.0], [0.0, 2.0, 4.0, 2.0]])
    mine = PlantedWorld(parse_config(WORLD), plugins=_private())
    np.testing.assert_allclose(mine.column_utilities(utilities, [2, 2]), [[1.0, 2.0], [0.5, 1.5]])
    built_in = PlantedWorld(parse_config(WORLD))  # default: the built-in aggregators alone
    np.testing.assert_allclose(built_in.column_utilities(utilities, [2, 2]), [[3.0, 6.0], [2.0, 4.0]])


def test_the_oracle_factory_hands_its_plugin_set_to_the_world():
    import pasta_planted

    plugins = Plugins(entry_points=None, extra=[pasta_planted, pasta_aggregators])
    oracle = plugins.create("selector", "oracle", user_type="1")
    assert oracle.world.plugins is plugins and oracle.user_type == 1
