"""The example plugin's own tests, written the way a third party would write them."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from pasta_core import get_plugins
from pasta_core.testing import check_aggregator, check_generator
from pasta_example_plugin import PaletteGenerator, TopKAggregator


def test_installed_plugin_is_discovered():
    plugins = get_plugins(fresh=True)
    assert plugins.provided()["example"] == {"aggregator": ["topk"], "generator": ["palette"]}


def test_palette_generator_follows_the_contract():
    check_generator(PaletteGenerator(), max_examples=15)


def test_topk_aggregator_follows_the_contract():
    check_aggregator(TopKAggregator(2))


def test_topk_lies_between_mean_and_max():
    scores = np.array([[0.0, 1.0, 5.0, 9.0]])
    assert TopKAggregator(2)(scores)[0] == 7.0
    assert TopKAggregator(10)(scores)[0] == scores.mean()


def test_runs_in_a_session(tmp_path):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    result = CliRunner().invoke(
        cli, ["run", "--user", "sim", "--generator", "palette", "--out", str(tmp_path), "--turns", "2"]
    )
    assert result.exit_code == 0, result.output
    assert " tones" in result.output
