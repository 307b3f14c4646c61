"""pasta bench planted --quick: every stage reported, every figure written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.mark.slow
def test_quick_bench_produces_every_figure(tmp_path: Path) -> None:
    """The --quick run writes the JSON, the report and the plot, with a figure for every
    stage; with every extra installed, every stage must be ok (a failed one fails this)."""
    from pasta_core.cli import cli, load_plugin_commands

    load_plugin_commands()
    result = CliRunner().invoke(cli, ["bench", "planted", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert (tmp_path / "figures.png").stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    stages = figures["stages"]
    assert set(stages) == {"data", "user_model", "simulation", "value_models", "agents"}
    for name, stage in stages.items():  # every extra is installed here: nothing may be skipped
        assert stage["status"] == "ok", (name, stage.get("reason"), stage.get("traceback"))
    agents = stages["agents"]["agents"]
    assert {"random", "first", "oracle"} <= set(agents)
    for agent in agents.values():
        assert len(agent["final_utility"]["ci95"]) == 2
        assert [t["turn"] for t in agent["per_turn"]] == [2, 3, 4, 5]
    if stages["user_model"]["status"] == "ok":
        for key in ("choice_accuracy", "bayes_optimal_accuracy", "accuracy_ratio", "adjusted_rand_index"):
            assert key in stages["user_model"]
    if stages["value_models"]["status"] == "ok":
        assert {"value-human", "value-simulated", "value-mixed", "value-slate-mixed"} <= set(agents)
        values, quick = stages["value_models"], figures["sizes"]
        assert values["mixed"]["steps"] == quick["iql_steps"]
        per_type_steps = round(quick["iql_steps"] * quick["value_slate_iql_share"])
        assert [job["steps"] for job in values["slate-mixed"]["per_type"]] == [per_type_steps] * 8
    assert set(figures["targets"]) == {"em_accuracy", "value_gap", "ablation"}
    assert "## Targets" in report and "oracle" in report


def test_a_stage_that_raises_fails_the_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage that raises is FAILED in the report and the JSON, the stages that need it
    are not run, and the command exits non-zero (it is not "skipped")."""
    from pasta_core.cli import cli, load_plugin_commands
    from pasta_planted.bench import Bench

    def broken(self: Bench) -> dict:
        raise RuntimeError("the data stage broke")

    monkeypatch.setattr(Bench, "data", broken)
    monkeypatch.setattr(Bench, "start_early_agents", lambda self: None)
    monkeypatch.setattr(Bench, "agents", lambda self: {"agents": {}})
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["bench", "planted", "--quick", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "FAILED" in str(result.exception) or "FAILED" in result.output
    stages = json.loads((tmp_path / "figures.json").read_text())["stages"]
    assert stages["data"]["status"] == "failed" and "the data stage broke" in stages["data"]["reason"]
    assert "RuntimeError" in stages["data"]["traceback"]
    assert {stages[n]["status"] for n in ("user_model", "simulation", "value_models")} == {"not run"}
    report = (tmp_path / "report.md").read_text()
    assert "**FAILED**" in report and "the data stage broke" in report


def test_skipped_only_on_purpose(tmp_path: Path) -> None:
    """A missing extra skips a stage (said so), any other error fails it, and a stage
    that needs a failed one is not run."""
    from pasta_core.errors import MissingDependencyError
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench import Bench, failed_stages

    bench = Bench(None, tmp_path, True, 0, False, 1, plugins=get_plugins())

    def missing() -> dict:
        raise MissingDependencyError("torch", "train")

    def import_bug() -> dict:
        import pasta_no_such_module  # noqa: F401

        return {}

    bench.stage("a", missing)
    bench.stage("b", import_bug)
    bench.stage("c", lambda: {"x": 1}, needs=("a",))
    bench.stage("d", lambda: {"x": 1}, needs=("b",))
    stages = bench.figures["stages"]
    assert stages["a"]["status"] == "skipped" and "on purpose" in stages["a"]["reason"]
    assert "pasta-t2i[train]" in stages["a"]["reason"]
    assert stages["b"]["status"] == "failed" and "ModuleNotFoundError" in stages["b"]["reason"]
    assert stages["c"]["status"] == "skipped" and stages["d"]["status"] == "not run"
    assert failed_stages(bench.figures) == ["b", "d"]
