"""Simulation throughput per executor and peak memory as N grows, each run in a fresh
process (``python -m pasta_bench.simulation N EXECUTOR WORKERS SHARD_SIZE OUT RECIPE``,
``RECIPE``: a pickled :class:`~pasta_core.plugins.PluginRecipe` of the caller's plugins)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from typing import Any


def _child(n: int, executor: str, workers: int, shard_size: int, out: str, recipe: Any) -> dict[str, Any]:
    """One simulation in this process (embedded defaults, 64 px images, features stored),
    with the plugin set ``recipe`` describes."""
    import resource

    from pasta_simulate.executors import RayExecutor, get_executor
    from pasta_simulate.simulate import SimulationSpec, simulate

    plugins = recipe.build()
    started = time.perf_counter()
    chosen = get_executor(executor, workers=workers)
    if isinstance(chosen, RayExecutor):
        chosen.start()  # start Ray before the clock (reported apart)
    startup = time.perf_counter() - started
    spec = SimulationSpec(count=n, seed=0, shard_size=shard_size)
    started = time.perf_counter()
    simulate(spec, out, progress=False, executor=chosen, plugins=plugins)
    seconds = time.perf_counter() - started
    return {"n": n, "executor": executor, "workers": workers if executor != "in-process" else 1,
            "shard_size": shard_size, "seconds": round(seconds, 2), "trajectories_per_s": round(n / seconds, 3),
            "ray_start_s": round(startup, 2) if executor == "ray" else None,
            "peak_rss_mib": _peak_rss_mib(),
            "peak_rss_children_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def _peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    over an exec, so a child started by a big parent would report the parent's peak."""
    import resource

    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_child(n: int, executor: str, workers: int, shard_size: int, recipe: Any) -> dict[str, Any]:
    """Run :func:`_child` in a fresh interpreter, with the plugin set ``recipe`` describes,
    and return its figures."""
    with tempfile.TemporaryDirectory() as folder:
        out, recipe_file = os.path.join(folder, "simulation"), os.path.join(folder, "plugins.pickle")
        with open(recipe_file, "wb") as file:
            pickle.dump(recipe, file)
        command = [sys.executable, "-m", "pasta_bench.simulation", str(n), executor, str(workers), str(shard_size), out,
                   recipe_file]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        env.pop("PASTA_EXECUTOR", None)
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"n": n, "executor": executor, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ray_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def throughput_section(count: int, workers: int, executors: tuple[str, ...], rounds: int = 1, *,
                       plugins: Any) -> dict[str, Any]:
    """Trajectories per second of the same N with each executor (same shard size), the
    components built from ``plugins``.

    With several ``rounds`` the executors take turns (serial, pool, Ray, serial, ...), each
    round's speed-ups are against that round's serial run, and an executor's figures are
    the medians over the rounds. One run each moved the 2-worker speed-ups by +-0.2x on a
    shared 2-core machine: the serial run took 17-25 s, the pool's 9.4-15 s."""
    import statistics

    shard_size = max(1, count // (4 * workers))
    names, notes = [], []
    for name in executors:
        if name == "ray" and not _ray_installed():
            notes.append("ray skipped: not installed (pip install 'pasta-t2i[ray]')")
            continue
        names.append(name)
    recipe = plugins.recipe()
    per_round = [{name: run_child(count, name, workers, shard_size, recipe) for name in names}
                 for _ in range(max(1, rounds))]
    runs = []
    for name in names:
        done = [r[name] for r in per_round if "seconds" in r[name]]
        if not done:
            runs.append(per_round[0][name])
            continue
        run = dict(done[0])
        run["seconds"] = round(statistics.median(r["seconds"] for r in done), 2)
        run["trajectories_per_s"] = round(count / run["seconds"], 3)
        run["round_seconds"] = [r["seconds"] for r in done]
        for key in ("peak_rss_mib", "peak_rss_children_mib"):
            run[key] = max(r[key] for r in done)
        if run.get("ray_start_s") is not None:
            run["ray_start_s"] = round(statistics.median(r["ray_start_s"] for r in done), 2)
        speedups = [r["in-process"]["seconds"] / r[name]["seconds"] for r in per_round
                    if "seconds" in r.get("in-process", {}) and "seconds" in r[name]]
        if speedups:
            run["speedup_vs_serial"] = round(statistics.median(speedups), 2)
            run["round_speedups"] = [round(x, 2) for x in speedups]
        runs.append(run)
    return {"count": count, "shard_size": shard_size, "rounds": max(1, rounds), "runs": runs, "notes": notes}


def memory_section(sizes: tuple[int, ...], *, plugins: Any) -> dict[str, Any]:
    """Peak resident memory of a serial simulation as N grows (shards of 100), the
    components built from ``plugins``."""
    recipe = plugins.recipe()
    runs = [run_child(n, "in-process", 1, 100, recipe) for n in sizes]
    peaks = [r["peak_rss_mib"] for r in runs if "peak_rss_mib" in r]
    growth = round(max(peaks) / min(peaks), 3) if peaks else None
    return {"shard_size": 100, "runs": runs, "peak_growth_largest_to_smallest": growth}


if __name__ == "__main__":
    n, executor, workers, shard_size, out, recipe_file = sys.argv[1:7]
    with open(recipe_file, "rb") as file:
        recipe = pickle.load(file)  # written by run_child, in its own temporary folder
    print(json.dumps(_child(int(n), executor, int(workers), int(shard_size), out, recipe)))
