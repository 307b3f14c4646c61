"""benchmarks/compare_planted_runs.py: paired differences between two bench runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_planted_runs.py"


def _script():
    spec = importlib.util.spec_from_file_location("compare_planted_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, agent_episodes: list[float], oracle: float = 2.0, seeds: int = 1) -> Path:
    """A one-world run whose random and oracle episodes score 0 and ``oracle``, the agent
    scoring ``agent_episodes`` at each of ``seeds`` training seeds."""
    n = len(agent_episodes)
    episodes = lambda values: {"episodes": {"final_expected": values}}  # noqa: E731
    seed = {"stages": {"agents": {"agents": {"value-mixed": episodes(agent_episodes)}}}}
    world = {"stages": {"baselines": {"agents": {"random": episodes([0.0] * n), "oracle": episodes([oracle] * n)}}},
             "seeds": {str(s): seed for s in range(seeds)}}
    (folder / "world-00").mkdir(parents=True)
    (folder / "world-00" / "figures.json").write_text(json.dumps(world), encoding="utf-8")
    return folder


def test_the_paired_difference_is_in_units_of_the_gap(tmp_path, capsys):
    compare = _script()
    a = _run(tmp_path / "a", [0.2, 0.4, 0.6, 0.8])
    b = _run(tmp_path / "b", [0.6, 0.8, 1.0, 1.2])
    result = compare.compare(compare.world_files(a), compare.world_files(b))["value-mixed"]
    assert result["a"]["value"] == pytest.approx(0.25) and result["b"]["value"] == pytest.approx(0.45)
    assert result["diff"]["value"] == pytest.approx(0.2) and result["diff"]["ci95"] == pytest.approx([0.2, 0.2])
    assert compare.main([str(a), str(b)]) == 0
    assert "B - A +0.200" in capsys.readouterr().out


def test_runs_that_do_not_pair_are_one_line(tmp_path, capsys):
    compare = _script()
    a = _run(tmp_path / "a", [0.2, 0.4])
    b = _run(tmp_path / "b", [0.6, 0.8], seeds=2)  # the same episodes, another number of training seeds
    with pytest.raises(SystemExit, match="do not pair"):
        compare.compare(compare.world_files(a), compare.world_files(b))
    other_world = _run(tmp_path / "c", [0.2, 0.4], oracle=3.0)
    with pytest.raises(SystemExit, match="random and oracle episodes differ"):
        compare.compare(compare.world_files(a), compare.world_files(other_world))
    assert compare.main([str(a), str(tmp_path / "none")]) == 2
    assert "holds no finished world" in capsys.readouterr().err
