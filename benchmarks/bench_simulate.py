"""Simulation throughput (trajectories/s) and peak memory at several N.

Each N runs `pasta simulate` in a fresh process (embedded defaults: `simple` user model,
template generator, random policy, procedural T2I at 64 px, image features stored) and
reports its wall time and peak resident memory. Peak memory should not grow with N.

    .venv/bin/python benchmarks/bench_simulate.py                 # N = 1,000 and 10,000
    .venv/bin/python benchmarks/bench_simulate.py --sizes 20,60   # smoke test
    .venv/bin/python benchmarks/bench_simulate.py --workers 2 --user-model planted
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def child(n: int, out: str, user_model: str, workers: int, shard_size: int) -> None:
    """Run one simulation in this process and print its figures as JSON."""
    import resource

    from pasta_core.plugins import get_plugins
    from pasta_simulate.simulate import SimulationSpec, simulate

    plugins = get_plugins()  # a fresh interpreter: this is its entry point
    spec = SimulationSpec(count=n, seed=0, user_model=user_model, shard_size=shard_size)
    started = time.perf_counter()
    result = simulate(spec, out, progress=False, workers=workers, plugins=plugins)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = sum(os.path.getsize(p) for p in result.shards) / 2**20
    print(json.dumps({"n": n, "seconds": round(seconds, 2), "trajectories_per_s": round(n / seconds, 3),
                      "peak_rss_mib": round(own, 1), "peak_rss_worker_mib": round(workers_peak, 1),
                      "disk_mib": round(size, 2), "shards": len(result.shards)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N values")
    parser.add_argument("--user-model", default="simple")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--shard-size", type=int, default=500)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.out, args.user_model, args.workers, args.shard_size)
        return
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, __file__, "--child", str(n), "--out", folder, "--user-model", args.user_model,
                       "--workers", str(args.workers), "--shard-size", str(args.shard_size)]
            output = subprocess.run(command, check=True, capture_output=True, text=True,
                                    env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout
            results.append(json.loads(output.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                      "user_model": args.user_model, "workers": args.workers, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
