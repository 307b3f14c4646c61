"""Add one learned agent to a finished ``pasta bench planted`` run, on its saved models.

The agent meets the run's very evaluation episodes (same worlds, held-out prompts, planted
types and seeds) with each training seed's saved user model, and the set's figures are
computed again with it (same hierarchical bootstrap as the bench). For trying an agent on
a run without training everything again::

    python benchmarks/bench_planted_agent.py --run runs/report --worlds worlds/report \\
        --agent user-model-slate --images 4 --out runs/report-planner

Writes ``figures.json``, ``report.md`` and ``figures.png`` to ``--out`` (the run's figures
plus the agent). Agents: ``user-model-slate`` (``pasta_value.planner``, ``--images`` renders
per candidate) and, for a run with the distill stage, ``distilled`` at another sampling
``--temperature`` (0: the most likely slate; default 1), on the run's saved distilled model
(its teacher's renders come from the run); it takes the run's ``distilled`` row, so the
report's ``kept/distilled`` is the one at that temperature. ``--temperature`` is refused for
the planner, which has none; ``added_agent`` records only the setting the agent used::

    python benchmarks/bench_planted_agent.py --run runs/distill --worlds worlds/r12 \
        --agent distilled --temperature 0 --out runs/distill-greedy
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any


def evaluate(job: tuple[str, str, dict[str, Any], bool]) -> tuple[str, str, dict[str, Any]]:
    """One world and training seed: the agent on the world's evaluation episodes."""
    import tempfile

    from pasta_core import get_plugins
    from pasta_planted.bench import WorldRun
    from pasta_planted.bench_agents import evaluate_spec, strip_private
    from pasta_planted.bench_common import dataset_seed, single_thread_torch
    from pasta_planted.config import load_config

    world_file, seed, spec, quick = job
    single_thread_torch()
    plugins = get_plugins()
    with tempfile.TemporaryDirectory() as scratch:  # the world's split, episodes and sizes, as the bench has them
        w = WorldRun(load_config(world_file), scratch, quick, progress=False, workers=1, plugins=plugins)
    result = evaluate_spec((w.config, spec, w.sizes.episodes, dataset_seed(w.evaluation_seed, "evaluation"),
                            w.episode_config, w.sizes.image_size, w.held_out), plugins)
    return Path(world_file).stem, seed, strip_private({spec["name"]: result})[spec["name"]]


def read_run(run: Path) -> dict[str, Any]:
    """The run's figures; of a run still going, its finished worlds (each world folder's
    figures.json once it holds the world's summary)."""
    if (run / "figures.json").is_file():
        return json.loads((run / "figures.json").read_text(encoding="utf-8"))
    worlds = []
    for path in sorted(run.glob("*/figures.json")):
        world = json.loads(path.read_text(encoding="utf-8"))
        if "summary" in world:
            worlds.append({"name": path.parent.name, **world})
    if not worlds:
        raise SystemExit(f"{run} has no finished world yet")
    return {"worlds": worlds, "seeds": [int(s) for s in worlds[0]["seeds"]], "quick": worlds[0]["quick"],
            "encoder": worlds[0]["encoder"], "workers": 2, "partial": True,
            "total_seconds": sum(w.get("total_seconds", 0.0) for w in worlds)}


def agent_spec(args: argparse.Namespace, seed_run: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The agent's spec on one world and training seed of the run (its saved models)."""
    from pasta_planted.bench_agents import planner_spec

    if args.agent == "user-model-slate":
        return planner_spec(folder / "user-model", args.images)
    distill = seed_run["stages"].get("distill", {})
    if distill.get("status") != "ok":
        raise SystemExit(f"{folder}: the run has no distilled model (run the bench with --distill)")
    planner = distill.get("teacher") == "user-model-slate"
    teacher = folder / ("user-model" if planner else "value-mixed")
    return {"name": "distilled", "kind": "distilled", "model": str(folder / "distilled"), "teacher": str(teacher),
            "teacher_selector": "user-model-slate" if planner else "value", "temperature": args.temperature,
            "teacher_options": distill.get("teacher_options", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a finished `pasta bench planted --worlds` output folder")
    parser.add_argument("--worlds", required=True, help="the world files the run used")
    parser.add_argument("--agent", default="user-model-slate", choices=["user-model-slate", "distilled"])
    parser.add_argument("--images", type=int, default=4, help="user-model-slate: renders per candidate")
    parser.add_argument("--temperature", type=float, default=None,
                        help="distilled: the model's sampling temperature [1]")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.temperature is not None and args.agent != "distilled":  # it would be recorded but never used
        parser.error(f"--temperature is for --agent distilled only; {args.agent} has no sampling temperature")
    if args.temperature is None:
        args.temperature = 1.0
    if not 0 <= args.temperature <= 10:  # the distilled generator's range, checked before any work starts
        parser.error(f"--temperature must be in [0, 10], got {args.temperature}")

    from pasta_planted.bench_report import write_outputs
    from pasta_planted.bench_set import set_figures, world_figures

    run = Path(args.run)
    figures = read_run(run)
    jobs = []
    for world in figures["worlds"]:
        for seed in world["seeds"]:
            spec = agent_spec(args, world["seeds"][seed], run / world["name"] / f"seed-{seed}")
            jobs.append((str(Path(args.worlds) / f"{world['name']}.toml"), seed, spec, bool(figures.get("quick"))))
    started = time.perf_counter()
    out_dir = Path(args.out)
    done_dir = out_dir / "agent-results"  # one file per world and seed: a rerun skips what is done
    done_dir.mkdir(parents=True, exist_ok=True)

    def saved(job: tuple[str, str, dict[str, Any], bool]) -> Path:
        setting = args.images if args.agent == "user-model-slate" else f"t{args.temperature:g}"
        return done_dir / f"{Path(job[0]).stem}-seed-{job[1]}-{args.agent}-{setting}.json"

    todo = [job for job in jobs if not saved(job).is_file()]
    with ProcessPoolExecutor(args.workers) as pool:
        for job, (name, seed, result) in zip(todo, pool.map(evaluate, todo)):
            saved(job).write_text(json.dumps(result), encoding="utf-8")
            print(f"{name} seed {seed}: {result['seconds']:.1f} s", flush=True)
    for job in jobs:
        world = next(w for w in figures["worlds"] if w["name"] == Path(job[0]).stem)
        result = json.loads(saved(job).read_text(encoding="utf-8"))
        world["seeds"][job[1]]["stages"]["agents"]["agents"][args.agent] = result
    for world in figures["worlds"]:
        world["summary"] = world_figures(world)
    out = copy.deepcopy(figures)
    out["summary"] = set_figures(out)
    setting = {"images": args.images} if args.agent == "user-model-slate" else {"temperature": args.temperature}
    out["added_agent"] = {"agent": args.agent, **setting, "seconds": round(time.perf_counter() - started, 1)}
    files = write_outputs(out, out_dir)
    entry = out["summary"]["figures"].get(f"gap/{args.agent}", {})
    print(json.dumps({"files": files, f"gap/{args.agent}": {"mean": entry.get("mean"), "worst": entry.get("worst")}},
                     indent=1, default=str))


if __name__ == "__main__":
    main()
