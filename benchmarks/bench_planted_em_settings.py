"""The planted bench's user-model stage alone, under other EM settings: for choosing the EM
defaults on the *tuning* set (never on the report set).

For each world file, the bench's own stages run as in ``pasta bench planted`` (the world's
held-out sessions, one training seed's data, the clip-em user model); each setting replaces
``[bench]`` keys for the user-model stage. A world's data are built once and every setting
trains on them; only settings that change the data (any key but the EM-only ones below,
e.g. ``em_dim``, which sets the encoder's size) get data of their own. The figure is the
EM's share of the chance-to-Bayes gap on the held-out sessions, with its bootstrap
interval, beside the same share on the training sessions (what the model was fitted to:
a gap between the two is overfitting). Over the worlds (and ``--seeds``), each setting's
mean comes with the bench's own hierarchical interval (:mod:`pasta_planted.bench_stats`:
worlds, seeds and held-out sessions resampled), and each setting's paired difference from
the first one::

    pasta planted worlds --n 8 --seed 1 --out worlds/tuning
    python benchmarks/bench_planted_em_settings.py --worlds worlds/tuning --only 0,1,2,3 \\
        --setting em_dim=32 --setting em_lr=3e-3 --setting em_steps=800,em_batch=128 \\
        --seeds 0 --out runs/em-settings.json

Prints and writes JSON: per world, seed and setting the gap share, its interval, the
training sessions' gap share, the plain ratio, the adjusted Rand index and the seconds the
EM stage took; then per setting the mean over worlds with its interval.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

#: ``[bench]`` keys that change only the EM training, not the world's data.
EM_ONLY = frozenset({"em_steps", "em_lr", "em_batch", "em_weight_decay", "em_hidden", "em_score_scale",
                     "em_satisfaction", "em_validation", "em_validate_every"})


def parse_value(text: str) -> Any:
    """``32`` -> 32, ``3e-3`` -> 0.003, ``true`` -> True, anything else the string."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_setting(text: str) -> dict[str, Any]:
    """``em_dim=32,em_lr=3e-3`` -> {"em_dim": 32, "em_lr": 0.003}; ``base`` -> {} (the world file's)."""
    if text.strip() in ("", "base"):
        return {}
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"error: a setting is key=value[,key=value...], got {part!r} in {text!r}")
        out[key.strip()] = parse_value(value)
    return out


def data_groups(settings: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Indices of the settings that share a world's data (same non-EM-only keys), keyed by
    those keys (JSON), in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, setting in enumerate(settings):
        key = json.dumps({k: v for k, v in sorted(setting.items()) if k not in EM_ONLY})
        groups.setdefault(key, []).append(i)
    return groups


def train_gap_share(bench: Any) -> float | None:
    """The trained model's share of the chance-to-Bayes gap on its own training sessions."""
    from pasta_planted.bench_em import learned_predictions, session_table, table_figures

    em = bench.state.get("em")
    if em is None:
        return None
    predictions = learned_predictions(em["model"], em["prior"], bench.state["train_labels"], bench.plugins)
    return table_figures(session_table(bench.world, bench.state["train"], predictions))["gap_share"]


def row(world_file: str, setting: dict[str, Any], bench: Any) -> dict[str, Any]:
    """One setting's figures on one world and training seed (with its held-out session table)."""
    stage = bench.figures["stages"]["user_model"]
    expected = stage.get("expected", {})
    return {"world": Path(world_file).stem, "seed": bench.seed, "setting": setting, "status": stage["status"],
            "gap_share": expected.get("gap_share"), "gap_share_ci95": expected.get("gap_share_ci95"),
            "train_gap_share": train_gap_share(bench) if stage["status"] == "ok" else None,
            "ratio": expected.get("accuracy_ratio"), "ari": stage.get("adjusted_rand_index"),
            "ari_planted": stage.get("adjusted_rand_index_planted_posterior"),
            "seconds": stage["seconds"], "train_seconds": stage.get("train_seconds"),
            "best_step": stage.get("em_best_step"), "reason": stage.get("reason"), "sessions": stage.get("sessions")}


def run_world(job: tuple[str, list[dict[str, Any]], list[int]]) -> list[dict[str, Any]]:
    """Every setting on one world (one process), for each training seed of ``seeds``."""
    import attrs

    from pasta_core import get_plugins
    from pasta_planted.bench import Bench, WorldRun
    from pasta_planted.bench_common import single_thread_torch
    from pasta_planted.config import load_config

    world_file, settings, seeds = job
    single_thread_torch()
    plugins = get_plugins()
    base = load_config(world_file)
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for key, members in data_groups(settings).items():
        config = attrs.evolve(base, bench=attrs.evolve(base.bench, **json.loads(key)))
        with tempfile.TemporaryDirectory() as out:
            world_run = WorldRun(config, out, quick=False, progress=False, workers=1, plugins=plugins)
            world_run.stage("held_out", world_run.held_out_sessions)
            for seed in seeds:
                bench = Bench(world_run, seed, Path(out) / f"seed-{seed}")
                bench.stage("data", bench.data)
                for i in members:
                    bench.sizes = attrs.evolve(world_run.sizes, **settings[i])
                    bench.state.pop("em", None)
                    bench.stage("user_model", bench.user_model, needs=("data", "held_out"))
                    rows[seed, i] = row(world_file, settings[i], bench)
                    print(json.dumps({k: v for k, v in rows[seed, i].items() if k != "sessions"}), flush=True)
    return [rows[seed, i] for seed in seeds for i in range(len(settings))]


def world_tables(rows: list[dict[str, Any]], setting: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per world, the setting's held-out session tables in the bench's figures layout
    (``seeds`` -> ``stages`` -> ``user_model``), the form :mod:`pasta_planted.bench_set` reads."""
    worlds: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["setting"] == setting and r["status"] == "ok":
            stage = {"status": "ok", "sessions": r["sessions"], "adjusted_rand_index": r["ari"],
                     "adjusted_rand_index_planted_posterior": r["ari_planted"]}
            world = worlds.setdefault(r["world"], {"stages": {}, "seeds": {}})
            world["seeds"][str(r["seed"])] = {"stages": {"user_model": stage}}
    return worlds


def paired_difference(new: dict[str, Any], old: dict[str, Any]) -> Any:
    """One world's estimate of (new - old) / (Bayes - chance), seeds and sessions paired:
    over the training seeds both settings finished (None if they share none)."""
    from pasta_planted.bench_set import em_arrays
    from pasta_planted.bench_stats import world_estimate

    common = sorted(set(new["seeds"]) & set(old["seeds"]), key=int)
    if not common:
        return None
    new, old = ({**w, "seeds": {s: w["seeds"][s] for s in common}} for w in (new, old))
    (a, shared, _), (b, _, _) = em_arrays(new), em_arrays(old)
    per_seed = {"new": a["learned_expected"], "old": b["learned_expected"]}

    def figure(m: dict[str, Any]) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (m["new"] - m["old"]) / (m["bayes_expected"] - m["chance"])

    return world_estimate(per_seed, shared, figure)


def means(rows: list[dict[str, Any]], settings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setting: the mean over worlds (and seeds) of the held-out gap share with the
    bench's interval, its paired difference from the first setting, and the means of the
    training sessions' gap share and of the seconds."""
    from pasta_planted.bench_set import world_estimates
    from pasta_planted.bench_stats import set_estimate

    first = world_tables(rows, settings[0])
    out = []
    for setting in settings:
        mine = [r for r in rows if r["setting"] == setting and r["gap_share"] is not None]
        tables = world_tables(rows, setting)
        estimate = set_estimate([world_estimates(w)["em/gap_share"] for w in tables.values()]) if tables else None
        shared = [name for name in tables if name in first]
        diffs = [d for d in (paired_difference(tables[n], first[n]) for n in shared) if d is not None]
        diff = set_estimate(diffs) if diffs else None
        out.append({"setting": setting, "worlds": len(tables), "runs": len(mine),
                    "gap_share": estimate.to_json() if estimate else None,
                    "minus_first": diff.to_json() if diff and setting != settings[0] else None,
                    **{f"mean_{key}": _mean(mine, key) for key in ("train_gap_share", "seconds", "train_seconds")}})
    return out


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    return float(np.mean([r[key] for r in rows])) if rows else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worlds", required=True, help="a folder of world files (the tuning set)")
    parser.add_argument("--only", default="", help="world indices to use, e.g. 0,1,2,3 (default: all)")
    parser.add_argument("--setting", action="append", required=True,
                        help="[bench] keys, e.g. em_dim=32,em_lr=3e-3 (base: the world file's own)")
    parser.add_argument("--seeds", default="0", help="the training seeds, e.g. 0,1,2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", required=True, help="JSON file")
    args = parser.parse_args()
    files = sorted(Path(args.worlds).glob("world-*.toml"))
    if args.only:
        files = [files[int(i)] for i in args.only.split(",")]
    settings = [parse_setting(s) for s in args.setting]
    seeds = [int(s) for s in args.seeds.split(",")]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [r for rs in pool.map(run_world, [(str(f), settings, seeds) for f in files]) for r in rs]
    summary = means(rows, settings)
    Path(args.out).write_text(json.dumps({"seeds": seeds, "rows": rows, "means": summary}, indent=1),
                              encoding="utf-8")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
