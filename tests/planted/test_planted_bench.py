"""pasta bench planted --quick: every stage reported, every figure written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.mark.slow
def test_quick_bench_produces_every_figure(tmp_path: Path) -> None:
    """The --quick run writes the JSON, the report and the plot, with a figure for every
    stage that ran and a reason for every stage that did not."""
    from pasta_core.cli import cli, load_plugin_commands

    load_plugin_commands()
    result = CliRunner().invoke(cli, ["bench", "planted", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert (tmp_path / "figures.png").stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    stages = figures["stages"]
    assert set(stages) == {"data", "user_model", "simulation", "value_models", "agents"}
    for name, stage in stages.items():
        assert stage["status"] in ("ok", "skipped")
        assert stage["status"] == "ok" or stage["reason"], name
    assert stages["data"]["status"] == "ok" and stages["agents"]["status"] == "ok"
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
