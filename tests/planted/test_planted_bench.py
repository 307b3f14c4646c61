"""pasta bench planted: a quick set run reports every figure; a stage that raises fails it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.mark.slow
def test_quick_set_run_produces_every_figure(tmp_path: Path) -> None:
    """``pasta planted worlds`` then ``pasta bench planted --worlds DIR --seeds 2 --quick``
    (the CI form): every stage of every world and seed is ok (every extra is installed
    here, so nothing may be skipped), every figure has its interval, no held-out prompt
    is in any training data, and no agent beats the oracle on turn 1."""
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    runner = CliRunner()
    made = runner.invoke(cli, ["planted", "worlds", "--n", "2", "--seed", "101", "--out", str(tmp_path / "worlds")])
    assert made.exit_code == 0, made.output
    out = tmp_path / "run"
    result = runner.invoke(cli, ["bench", "planted", "--worlds", str(tmp_path / "worlds"), "--seeds", "2", "--quick",
                                 "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    figures = json.loads((out / "figures.json").read_text())
    assert (out / "figures.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert [w["name"] for w in figures["worlds"]] == ["world-00", "world-01"]
    for world in figures["worlds"]:
        assert set(world["stages"]) == {"held_out", "baselines"}
        assert set(world["seeds"]) == {"0", "1"}
        stages = [(n, s) for n, s in world["stages"].items()]
        stages += [(f"seed {k}: {n}", s) for k, run in world["seeds"].items() for n, s in run["stages"].items()]
        for name, stage in stages:
            assert stage["status"] == "ok", (world["name"], name, stage.get("reason"), stage.get("traceback"))
        overlap = world["summary"]["prompt_overlap"]
        assert overlap["held_out_sessions_in_training"] == 0 and overlap["evaluation_in_training"] == 0
        assert overlap["training_prompts"] > 0 and overlap["evaluation_prompts"] > 0
        assert set(world["summary"]["oracle"]["turn1_violations"].values()) == {0}
        own = world["summary"]["oracle"]["own_candidates"]
        assert own and all(name.startswith("distilled") for name in own), own
        agents = world["stages"]["baselines"]["agents"]
        assert {"random", "first", "oracle"} <= set(agents)
        for run in world["seeds"].values():
            learned = run["stages"]["agents"]["agents"]
            assert set(learned) == {"value-human", "value-simulated", "value-mixed", "value-slate-mixed", "distilled",
                                    "user-model-slate"}
            distill = run["stages"]["distill"]
            assert distill["files"]["openai"] == distill["files"]["gemini"] == distill["files"]["parquet"] > 0
            assert distill["latency"]["distilled"]["model_calls_per_turn"] <= 1.0
            assert learned["distilled"]["model_calls"] > 0
            for agent in learned.values():
                assert [t["turn"] for t in agent["per_turn"]] == [2, 3, 4, 5]
            um = run["stages"]["user_model"]
            for key in ("gap_share", "gap_share_ci95", "accuracy_ratio", "bayes_optimal_accuracy", "adjusted_rand_index"):
                assert key in um
    summary = figures["summary"]["figures"]
    for key in ("gap/value-mixed", "gap/value-slate-mixed", "diff/value-mixed - value-human", "em/gap_share",
                "em/ratio", "utility/oracle", "gap/distilled", "kept/distilled"):
        entry = summary[key]
        assert len(entry["mean"]["ci95"]) == 2 and entry["worst"]["world"] in ("world-00", "world-01")
        assert set(entry["worlds"]) == {"world-00", "world-01"}
    targets = figures["summary"]["targets"]
    assert targets["ablation"]["claim"] in ("better", "non-inferior", "inferior", "not shown")
    assert targets["em_converges"]["met"] is True
    assert {"distilled_kept", "distilled_one_call", "distilled_speedup"} <= set(targets)
    assert "## Distillation (issue 20)" in report
    assert "## Targets" in report and "oracle" in report and "FAILED" not in report


def test_a_stage_that_raises_fails_the_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage that raises is FAILED in the report and the JSON, the stages that need it
    are not run, and the command exits non-zero (it is not "skipped")."""
    from pasta_cli import cli, load_plugin_commands
    from pasta_planted.bench import Bench, WorldRun

    def broken(self: Bench) -> dict:
        raise RuntimeError("the data stage broke")

    monkeypatch.setattr(Bench, "data", broken)
    monkeypatch.setattr(WorldRun, "held_out_sessions", lambda self: {"prompts": []})
    monkeypatch.setattr(WorldRun, "start_baselines", lambda self: None)
    monkeypatch.setattr(WorldRun, "baselines", lambda self: {"agents": {}, "prompts": []})
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["bench", "planted", "--quick", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "FAILED" in str(result.exception) or "FAILED" in result.output
    (world,) = json.loads((tmp_path / "figures.json").read_text())["worlds"]
    stages = world["seeds"]["0"]["stages"]
    assert stages["data"]["status"] == "failed" and "the data stage broke" in stages["data"]["reason"]
    assert "RuntimeError" in stages["data"]["traceback"]
    assert {stages[n]["status"] for n in ("user_model", "simulation", "value_models", "agents")} == {"not run"}
    report = (tmp_path / "report.md").read_text()
    assert "**FAILED**" in report and "the data stage broke" in report


def test_skipped_only_on_purpose(tmp_path: Path) -> None:
    """A missing extra skips a stage (said so), any other error fails it, and a stage
    that needs a failed one is not run."""
    from pasta_core.errors import MissingDependencyError
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench import WorldRun, failed_stages
    from pasta_planted.config import load_config

    bench = WorldRun(load_config(), tmp_path, True, False, 1, plugins=get_plugins())

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


def test_held_out_prompts_are_split_by_a_named_stream() -> None:
    """The split is a pure function of its root, disjoint, complete, of the asked share."""
    from pasta_planted.bench import split_prompts

    prompts = tuple(f"prompt {i}" for i in range(200))
    train, held = split_prompts(prompts, 0.3, 5)
    assert len(held) == 60 and not set(train) & set(held) and set(train) | set(held) == set(prompts)
    assert split_prompts(prompts, 0.3, 5) == (train, held)
    assert split_prompts(prompts, 0.3, 6)[1] != held


def test_oracle_bound_leaves_out_agents_that_write_their_own_candidates() -> None:
    """The turn-1 bound holds only for agents choosing among the oracle's candidates: one
    that beats the oracle on turn 1 is a violation, unless it writes its own slate."""
    from pasta_planted.bench_agents import oracle_bound

    def agent(first: list[float], final: list[float], **extra: object) -> dict:
        return {"episodes": {"turns_expected": [[f] for f in first], "final_expected": final}, **extra}

    agents = {"oracle": agent([1.0, 1.0], [2.0, 2.0]), "value": agent([1.5, 0.5], [1.0, 1.0]),
              "distilled": agent([1.5, 1.5], [1.0, 1.0], own_candidates=True)}
    bound = oracle_bound(agents)
    assert bound["turn1_violations"] == {"value": 1}
    assert bound["own_candidates"] == ["distilled"]
    assert bound["passes_oracle"] == []
