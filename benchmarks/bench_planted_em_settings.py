"""The planted bench's user-model stage alone, under other EM settings: for choosing the EM
defaults on the *tuning* set (never on the report set).

For each world file, the bench's own stages run as in ``pasta bench planted`` (the world's
held-out sessions, one training seed's data, the clip-em user model); each setting replaces
``[bench]`` keys for the user-model stage. A world's data are built once and every setting
trains on them; only settings that change the data (any key but the EM-only ones below,
e.g. ``em_dim``, which sets the encoder's size) get data of their own. The figure is the
EM's share of the chance-to-Bayes gap on the held-out sessions, with its bootstrap
interval, beside the same share on the training sessions (what the model was fitted to:
a gap between the two is overfitting)::

    pasta planted worlds --n 8 --seed 1 --out worlds/tuning
    python benchmarks/bench_planted_em_settings.py --worlds worlds/tuning --only 0,1,2,3 \\
        --setting em_dim=32 --setting em_lr=3e-3 --setting em_steps=800,em_batch=128 \\
        --out runs/em-settings.json

Prints and writes JSON: per world and setting the gap share, its interval, the training
sessions' gap share, the plain ratio, the adjusted Rand index and the seconds the EM stage
took; then the mean over worlds of each setting.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

#: ``[bench]`` keys that change only the EM training, not the world's data.
EM_ONLY = frozenset({"em_steps", "em_lr", "em_batch", "em_weight_decay", "em_hidden", "em_score_scale",
                     "em_satisfaction"})


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
    """One setting's figures on one world."""
    stage = bench.figures["stages"]["user_model"]
    expected = stage.get("expected", {})
    return {"world": Path(world_file).stem, "setting": setting, "status": stage["status"],
            "gap_share": expected.get("gap_share"), "gap_share_ci95": expected.get("gap_share_ci95"),
            "train_gap_share": train_gap_share(bench) if stage["status"] == "ok" else None,
            "ratio": expected.get("accuracy_ratio"), "ari": stage.get("adjusted_rand_index"),
            "ari_planted": stage.get("adjusted_rand_index_planted_posterior"),
            "seconds": stage["seconds"], "train_seconds": stage.get("train_seconds"),
            "reason": stage.get("reason")}


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
    rows: dict[int, dict[str, Any]] = {}
    for key, members in data_groups(settings).items():
        config = attrs.evolve(base, bench=attrs.evolve(base.bench, **json.loads(key)))
        with tempfile.TemporaryDirectory() as out:
            world_run = WorldRun(config, out, quick=False, progress=False, workers=1, plugins=plugins)
            world_run.stage("held_out", world_run.held_out_sessions)
            bench = Bench(world_run, seed, Path(out) / f"seed-{seed}")
            bench.stage("data", bench.data)
            for i in members:
                bench.sizes = attrs.evolve(world_run.sizes, **settings[i])
                bench.state.pop("em", None)
                bench.stage("user_model", bench.user_model, needs=("data", "held_out"))
                rows[i] = row(world_file, settings[i], bench)
                print(json.dumps(rows[i]), flush=True)
    return [rows[i] for i in range(len(settings))]


def means(rows: list[dict[str, Any]], settings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setting: the mean over worlds of the held-out and training gap shares and seconds."""
    def mean(mine: list[dict[str, Any]], key: str) -> float | None:
        return sum(r[key] for r in mine) / len(mine) if mine else None

    out = []
    for setting in settings:
        mine = [r for r in rows if r["setting"] == setting and r["gap_share"] is not None]
        out.append({"setting": setting, "worlds": len(mine), "mean_gap_share": mean(mine, "gap_share"),
                    "mean_train_gap_share": mean(mine, "train_gap_share"), "mean_seconds": mean(mine, "seconds")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worlds", required=True, help="a folder of world files (the tuning set)")
    parser.add_argument("--only", default="", help="world indices to use, e.g. 0,1,2,3 (default: all)")
    parser.add_argument("--setting", action="append", required=True,
                        help="[bench] keys, e.g. em_dim=32,em_lr=3e-3 (base: the world file's own)")
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
    summary = means(rows, settings)
    Path(args.out).write_text(json.dumps({"seed": args.seed, "rows": rows, "means": summary}, indent=1),
                              encoding="utf-8")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
