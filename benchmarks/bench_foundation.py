"""Foundation figures: procedural images/s, `pasta run --user sim` wall time and peak
memory, and `pasta --help` time. Prints JSON.

    .venv/bin/python benchmarks/bench_foundation.py
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time


def _child(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def procedural_images_per_second(n: int = 128) -> float:
    from pasta_procedural import ProceduralT2I

    t2i = ProceduralT2I()
    from pasta_cli.data import initial_prompts

    prompts = [initial_prompts()[i % 97] for i in range(n)]
    t2i.render(prompts[:4], list(range(4)))  # warm up
    start = time.perf_counter()
    t2i.render(prompts, list(range(n)))
    return n / (time.perf_counter() - start)


def main() -> None:
    pasta = os.path.join(os.path.dirname(sys.executable), "pasta")
    with tempfile.TemporaryDirectory() as out:
        run_wall, run_peak = _child([pasta, "run", "--user", "sim", "--out", out, "--seed", "1"])
    helps = [_child([pasta, "--help"])[0] for _ in range(5)]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "procedural_images_per_s_256px": round(procedural_images_per_second(), 1),
        "pasta_run_sim_wall_s": round(run_wall, 2),
        "pasta_run_sim_peak_rss_mib": round(run_peak, 1),
        "pasta_help_s_median": round(sorted(helps)[2], 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
