"""Paired difference of each learned agent between two ``pasta bench planted`` runs.

Two runs of the same world files and training seeds meet the very same evaluation
episodes (the same held-out prompts, planted types and random streams), so a setting's
effect on an agent is best read per episode: ``(B - A) / (oracle - random)``, the change
in the share of the random-to-oracle gap, with the bench's own hierarchical interval
(:mod:`pasta_planted.bench_stats`: worlds, training seeds and episodes resampled, the same
episode resample for both runs). For judging a setting on the tuning set::

    pasta bench planted --worlds worlds/tuning-base --seeds 1 --out runs/base
    pasta bench planted --worlds worlds/tuning-new --seeds 1 --out runs/new
    python benchmarks/compare_planted_runs.py runs/base runs/new

Prints one line per agent the two runs share: A's share, B's share, and B - A paired.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pasta_planted.bench_stats import difference_figure, gap_figure, set_estimate, world_estimate

FIGURE = "final_expected"  # the expected final-turn true utility of an episode


def world_files(run: Path) -> dict[str, dict[str, Any]]:
    """Each finished world's figures (``WORLD/figures.json``) by world name."""
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(run.glob("*/figures.json"))}


def episodes(world: dict[str, Any], agent: str) -> np.ndarray | None:
    """(seeds, episodes) of a learned agent, or None if a seed lacks it."""
    rows = []
    for seed in sorted(world["seeds"], key=int):
        agents = world["seeds"][seed]["stages"].get("agents", {}).get("agents", {})
        if agent not in agents:
            return None
        rows.append(agents[agent]["episodes"][FIGURE])
    return np.asarray(rows, dtype=np.float64)


def baselines(world: dict[str, Any]) -> dict[str, np.ndarray]:
    agents = world["stages"]["baselines"]["agents"]
    return {name: np.asarray(agents[name]["episodes"][FIGURE], dtype=np.float64) for name in ("random", "oracle")}


def compare(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per agent: A's and B's gap shares and B - A, each over the worlds both runs hold."""
    names = sorted(set(a) & set(b))
    if not names:
        raise SystemExit("error: the two runs share no finished world")
    agents = set.intersection(*(set(seed["stages"].get("agents", {}).get("agents", {}))
                                for run in (a, b) for n in names for seed in run[n]["seeds"].values()))
    for n in names:  # the same episodes: the baselines (seed-independent) agree to the last digit
        if any(not np.array_equal(x, y) for x, y in zip(baselines(a[n]).values(), baselines(b[n]).values())):
            raise SystemExit(f"error: {n}: the runs' random and oracle episodes differ (other world files?)")
    out: dict[str, dict[str, Any]] = {}
    for agent in sorted(agents):
        per_world: dict[str, list[Any]] = {"a": [], "b": [], "diff": []}
        for n in names:
            ea, eb, shared = episodes(a[n], agent), episodes(b[n], agent), baselines(a[n])
            if ea is None or eb is None or ea.shape != eb.shape:
                raise SystemExit(f"error: {n}: the runs' {agent} episodes do not pair (other seeds or sizes?)")
            per_seed = {"A": ea, "B": eb}
            per_world["a"].append(world_estimate(per_seed, shared, gap_figure("A")))
            per_world["b"].append(world_estimate(per_seed, shared, gap_figure("B")))
            per_world["diff"].append(world_estimate(per_seed, shared, difference_figure("B", "A")))
        out[agent] = {k: set_estimate(v).to_json() for k, v in per_world.items()}
        out[agent]["worlds"] = names
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args(argv)
    runs = [world_files(r) for r in (args.run_a, args.run_b)]
    for run, path in zip(runs, (args.run_a, args.run_b)):
        if not run:
            print(f"error: {path} holds no finished world (WORLD/figures.json)", file=sys.stderr)
            return 2
    result = compare(*runs)
    for agent, r in result.items():
        fmt = lambda e: f"{e['value']:+.3f} [{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}]"  # noqa: E731
        print(f"{agent:20s} A {fmt(r['a'])}  B {fmt(r['b'])}  B - A {fmt(r['diff'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
