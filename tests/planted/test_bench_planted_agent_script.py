"""benchmarks/bench_planted_agent.py: the setting it records and the options it refuses.

The run is a stub (one world, one seed, the agent's result already saved, so nothing is
evaluated) and the figures and outputs are stubbed too: what is checked is the script's own
``added_agent`` record and its argument checks."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_planted_agent.py"


@pytest.fixture
def script(tmp_path, monkeypatch) -> Any:
    """The script's ``main`` on a stub run; returns (main, what write_outputs got)."""
    import pasta_planted.bench_report as bench_report
    import pasta_planted.bench_set as bench_set

    spec = importlib.util.spec_from_file_location("bench_planted_agent_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    distill = {"status": "ok", "teacher": "user-model-slate", "teacher_options": {"images": 2}}
    seed = {"stages": {"agents": {"agents": {}}, "distill": distill}}
    run = tmp_path / "run"
    run.mkdir()
    (run / "figures.json").write_text(
        json.dumps({"worlds": [{"name": "w", "seeds": {"0": seed}}], "quick": True})
    )
    done = tmp_path / "out" / "agent-results"
    done.mkdir(parents=True)
    for name in ("w-seed-0-user-model-slate-4", "w-seed-0-distilled-t1", "w-seed-0-distilled-t0"):
        (done / f"{name}.json").write_text(json.dumps({"seconds": 1.0}))
    written: dict[str, Any] = {}
    monkeypatch.setattr(bench_set, "world_figures", lambda world: {})
    monkeypatch.setattr(bench_set, "set_figures", lambda figures: {"figures": {}})
    monkeypatch.setattr(
        bench_report, "write_outputs", lambda figures, out: written.update(figures) or {}
    )

    def main(*args: str) -> dict[str, Any]:
        argv = [
            "bench_planted_agent.py",
            "--run",
            str(run),
            "--worlds",
            str(tmp_path / "worlds"),
            "--out",
            str(tmp_path / "out"),
            *args,
        ]
        monkeypatch.setattr(sys, "argv", argv)
        module.main()
        return written["added_agent"]

    return main


def test_each_agent_records_only_the_setting_it_uses(script) -> None:
    planner = script("--agent", "user-model-slate")
    assert {k: v for k, v in planner.items() if k != "seconds"} == {
        "agent": "user-model-slate",
        "images": 4,
    }
    distilled = script("--agent", "distilled", "--temperature", "0")
    assert {k: v for k, v in distilled.items() if k != "seconds"} == {
        "agent": "distilled",
        "temperature": 0.0,
    }
    default = script("--agent", "distilled")  # the distilled generator's default temperature
    assert {k: v for k, v in default.items() if k != "seconds"} == {
        "agent": "distilled",
        "temperature": 1.0,
    }


@pytest.mark.parametrize("temperature", ["0", "1"])
def test_a_temperature_for_the_planner_is_a_one_line_usage_error(
    script, capsys, temperature
) -> None:
    with pytest.raises(SystemExit) as stopped:
        script("--agent", "user-model-slate", "--temperature", temperature)
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--temperature is for --agent distilled only" in last and "user-model-slate" in last
