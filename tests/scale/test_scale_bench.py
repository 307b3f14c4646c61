"""`pasta bench`: the group pasta_bench owns and others join, `perf` verdicts, files written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pasta_bench.report import markdown, targets
from pasta_cli import cli, load_plugin_commands


def _cli():
    load_plugin_commands()
    return cli


def test_bench_owns_the_group_and_planted_joins_it():
    bench = _cli().commands["bench"]
    assert "perf" in bench.commands and "planted" in bench.commands
    result = CliRunner().invoke(cli, ["bench", "perf", "--help"])
    assert result.exit_code == 0 and "--executors" in result.output


def _bench_plugins(*extra):
    import pasta_bench
    from pasta_core.plugins import Plugins

    return Plugins(entry_points=None, extra=[pasta_bench, *extra])


def test_pasta_register_bench_commands_adds_to_the_group_pasta_bench_makes():
    """pasta_bench makes the group whatever the plugin order and calls
    pasta_register_bench_commands of every plugin with it."""
    import click

    from pasta_core.plugins import plugin_module

    @click.command("mine")
    def mine() -> None:
        """A third-party benchmark."""

    early = plugin_module("early", pasta_register_bench_commands=lambda bench: bench.add_command(mine))
    group = click.Group("pasta")
    _bench_plugins(early).add_commands(group)
    assert sorted(group.commands["bench"].commands) == ["mine", "perf"]


def test_a_failing_bench_hook_is_reported_and_the_group_stays():
    import click

    from pasta_core.plugins import plugin_module

    def broken(bench):
        raise RuntimeError("no benchmark today")

    plugins = _bench_plugins(plugin_module("broken", pasta_register_bench_commands=broken))
    group = click.Group("pasta")
    plugins.add_commands(group)
    assert list(group.commands["bench"].commands) == ["perf"]
    assert [(f.name, f.error) for f in plugins.failures] == [("broken", "RuntimeError: no benchmark today")]


def test_without_the_bench_plugin_there_is_no_bench_group(monkeypatch):
    """The planted plugin adds its benchmark to the group; it does not make one."""
    import click

    from pasta_core.plugins import Plugins

    monkeypatch.setenv("PASTA_DISABLE_PLUGINS", "bench")
    group = click.Group("pasta")
    Plugins().add_commands(group)
    assert "bench" not in group.commands and "planted" in group.commands and "simulate" in group.commands


def test_unknown_section_is_refused(tmp_path):
    result = CliRunner().invoke(_cli(), ["bench", "perf", "--only", "latency,warp", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "warp" in result.output


def _step(key, step, fb, nets, opt):
    return {key: step, "bare_forward_backward_s": fb, "bare_networks_forward_backward_s": nets,
            "bare_networks_optimizer_s": opt, "ratio_to_forward_backward": step / fb,
            "ratio_to_networks_forward_backward": step / nets, "ratio_to_networks_optimizer": step / opt}


def test_targets_say_met_and_not_met():
    result = {
        "machine": {"machine": "x86_64", "cpus": 2, "python": "3.11"},
        "training": {"threads": 2, "em": _step("em_step_s", 1.0, 0.8, 0.9, 0.95),
                     "iql": _step("iql_step_s", 2.0, 0.8, 1.0, 1.5)},
        "memory": {"runs": [{"n": 10, "peak_rss_mib": 100.0, "seconds": 1}, {"n": 100, "peak_rss_mib": 150.0,
                                                                             "seconds": 9}],
                   "peak_growth_largest_to_smallest": 1.5},
    }
    rows = targets(result)
    verdicts = [(row[0].split(" ")[0], row[1], row[2]) for row in rows]
    assert verdicts == [("EM", "1.11x", "met"), ("...", "1.25x", "met"),
                        ("IQL", "2.00x", "**not met**"), ("...", "2.50x", "**not met**"),
                        ("peak", "1.50x", "**not met**")]
    text = markdown(result)
    assert "## Training steps" in text and "| 100 | 150.0 | 9 |" in text
    assert "| IQL | 2.0 | 0.8 | 1.0 | 1.5 | 2.5 | 2.0 | 1.333" in text


@pytest.mark.parametrize("model", ["embedded", "causal-lm"])
def test_training_section_measures_every_reference(model):
    """The IQL step is measured on the embedded and on the tiny causal-LM value model."""
    from pasta_bench.training import IQL_MODELS, iql_speed

    if model == "causal-lm":
        pytest.importorskip("transformers")
    figures = iql_speed(batch_size=32, steps=2, model=model)
    assert figures["model"] == IQL_MODELS[model] and figures["parameters"] > 0
    assert 0 < figures["bare_forward_backward_s"] and 0 < figures["bare_networks_forward_backward_s"]
    assert figures["ratio_to_networks_optimizer"] > 0 and figures["iql_step_s"] > 0


def test_training_table_has_a_causal_lm_row():
    result = {"machine": {"machine": "x86_64", "cpus": 2, "python": "3.11"},
              "training": {"threads": 1, "iql": _step("iql_step_s", 2.0, 0.8, 1.0, 1.5),
                           "iql_causal_lm": _step("iql_step_s", 1.2, 0.8, 1.0, 1.1)}}
    assert [row[:2] for row in targets(result)][2] == [
        "IQL (causal LM) step <= 1.5 x bare forward+backward of the same networks (online + target)", "1.20x"]
    assert "| IQL (causal LM) | 1.2 | 0.8 | 1.0 | 1.1 |" in markdown(result)


@pytest.mark.slow
def test_quick_simulation_section_writes_json_and_markdown(tmp_path):
    args = ["bench", "perf", "--quick", "--only", "simulation", "--executors", "in-process,process", "-n", "8",
            "--out", str(tmp_path)]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "perf.json").read_text())
    runs = figures["simulation"]["runs"]
    assert [r["executor"] for r in runs] == ["in-process", "process"]
    assert all(r["trajectories_per_s"] > 0 for r in runs)
    assert "speedup_vs_serial" in runs[1]
    assert "## Simulation throughput" in (tmp_path / "perf.md").read_text()


def test_persisted_latency_reports_close_apart():
    from pasta_bench.latency import breakdown
    from pasta_core.plugins import get_plugins

    parts = breakdown(get_plugins(), turns=2, sessions=1, persist=True)
    assert {"generator", "selector", "t2i", "user", "framework", "total", "close_per_session"} <= set(parts)
    assert parts["framework_share_with_close"] >= parts["framework_share"]
    result = {"machine": {"machine": "x86_64", "cpus": 2, "python": "3.11"},
              "latency": {"components": "embedded", "per_turn_in_memory": parts, "per_turn_persisted": parts,
                          "prefetch": {}}}
    assert any("close()" in row[0] for row in targets(result))
    assert "| close_per_session |" in markdown(result)


def test_throughput_rounds_take_turns_and_report_medians(monkeypatch):
    """Three rounds: each speed-up is against its own round's serial run; medians reported."""
    import pasta_bench.simulation as simulation
    from pasta_core.plugins import PluginRecipe, get_plugins

    seconds = {"in-process": iter([20.0, 22.0, 30.0]), "process": iter([10.0, 12.0, 15.0])}
    order = []

    def fake_child(n, executor, workers, shard_size, recipe):
        assert isinstance(recipe, PluginRecipe)
        order.append(executor)
        return {"n": n, "executor": executor, "workers": workers, "shard_size": shard_size,
                "seconds": next(seconds[executor]), "ray_start_s": None, "peak_rss_mib": 100.0 + len(order),
                "peak_rss_children_mib": 0.0}

    monkeypatch.setattr(simulation, "run_child", fake_child)
    section = simulation.throughput_section(200, 2, ("in-process", "process"), rounds=3, plugins=get_plugins())
    assert order == ["in-process", "process"] * 3
    serial, pool = section["runs"]
    assert serial["seconds"] == 22.0 and serial["round_seconds"] == [20.0, 22.0, 30.0]
    assert pool["round_speedups"] == [2.0, 1.83, 2.0] and pool["speedup_vs_serial"] == 2.0
    assert pool["seconds"] == 12.0 and pool["trajectories_per_s"] == round(200 / 12.0, 3)
    assert pool["peak_rss_mib"] == 106.0
    assert "2.0 / 1.83 / 2.0" in markdown({"machine": {"machine": "x", "cpus": 2, "python": "3.11"},
                                           "simulation": section})
