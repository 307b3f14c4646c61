"""The planted bench's user-model stage alone, under other EM settings: for choosing the EM
defaults on the *tuning* set (never on the report set).

For each world file and each setting, the bench's own stages run as in ``pasta bench
planted`` (the world's held-out sessions, one training seed's data, the clip-em user model)
with ``[bench]`` keys replaced by the setting; the figure is the EM's share of the
chance-to-Bayes gap on the held-out sessions, with its bootstrap interval::

    pasta planted worlds --n 8 --seed 1 --out worlds/tuning
    python benchmarks/bench_planted_em_settings.py --worlds worlds/tuning --only 0,1,2,3 \\
        --setting em_dim=96 --setting em_dim=32 --setting em_dim=32,em_satisfaction=ordinal \\
        --out runs/em-settings.json

Prints and writes JSON: per world and setting the gap share, its interval, the plain ratio
and the seconds the EM stage took; then the mean over worlds of each setting.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any


def parse_setting(text: str) -> dict[str, Any]:
    """``em_dim=32,em_satisfaction=ordinal`` -> {"em_dim": 32, "em_satisfaction": "ordinal"}."""
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        out[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return out


def run_world(job: tuple[str, list[dict[str, Any]], int]) -> list[dict[str, Any]]:
    """Every setting on one world (one process), training seed ``seed``."""
    import attrs

    from pasta_core import get_plugins
    from pasta_planted.bench import Bench, WorldRun
    from pasta_planted.bench_common import single_thread_torch
    from pasta_planted.config import load_config

    world_file, settings, seed = job
    single_thread_torch()
    plugins = get_plugins()
    base = load_config(world_file)
    rows = []
    for setting in settings:
        config = attrs.evolve(base, bench=attrs.evolve(base.bench, **setting))
        with tempfile.TemporaryDirectory() as out:
            world_run = WorldRun(config, out, quick=False, progress=False, workers=1, plugins=plugins)
            world_run.stage("held_out", world_run.held_out_sessions)
            bench = Bench(world_run, seed, Path(out) / f"seed-{seed}")
            bench.stage("data", bench.data)
            bench.stage("user_model", bench.user_model, needs=("data", "held_out"))
        stage = bench.figures["stages"]["user_model"]
        expected = stage.get("expected", {})
        rows.append({"world": Path(world_file).stem, "setting": setting, "status": stage["status"],
                     "gap_share": expected.get("gap_share"), "gap_share_ci95": expected.get("gap_share_ci95"),
                     "ratio": expected.get("accuracy_ratio"), "seconds": stage["seconds"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worlds", required=True, help="a folder of world files (the tuning set)")
    parser.add_argument("--only", default="", help="world indices to use, e.g. 0,1,2,3 (default: all)")
    parser.add_argument("--setting", action="append", required=True, help="[bench] keys, e.g. em_dim=32,em_steps=800")
    parser.add_argument("--seed", type=int, default=0, help="the training seed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", required=True, help="JSON file")
    args = parser.parse_args()
    files = sorted(Path(args.worlds).glob("world-*.toml"))
    if args.only:
        files = [files[int(i)] for i in args.only.split(",")]
    settings = [parse_setting(s) for s in args.setting]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [r for rs in pool.map(run_world, [(str(f), settings, args.seed) for f in files]) for r in rs]
    means = []
    for setting in settings:
        shares = [r["gap_share"] for r in rows if r["setting"] == setting and r["gap_share"] is not None]
        means.append({"setting": setting, "worlds": len(shares),
                      "mean_gap_share": sum(shares) / len(shares) if shares else None})
    Path(args.out).write_text(json.dumps({"rows": rows, "means": means}, indent=1), encoding="utf-8")
    print(json.dumps(means, indent=1))


if __name__ == "__main__":
    main()
