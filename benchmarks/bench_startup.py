"""Start-up time of the ``pasta`` command line: ``pasta --help`` in a fresh process.

Each tree is run in turn (the trees alternate, so a change in the machine's load hits
them alike), ``--runs`` times; the report is the median with the fastest and slowest run,
and the modules imported. A tree is ``NAME=PATH:MODULE`` (``MODULE`` holds ``main``):
the tree's packages come first on the path, so an older checkout (``git worktree add``)
can be measured against this one with the same virtual environment::

    python benchmarks/bench_startup.py --runs 15 \\
        --tree before=/tmp/before:pasta_core.cli --tree after=.:pasta_cli
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CODE = ("import sys; sys.argv = ['pasta', '--help']; from {module} import main\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print(len(sys.modules), file=sys.stderr)")


def run_once(path: Path, module: str) -> tuple[float, int]:
    """Seconds of one ``pasta --help`` with ``path``'s packages first, and the modules it imported."""
    env = {**os.environ, "PYTHONPATH": f"{path}{os.pathsep}{path / 'plugins'}"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CODE.format(module=module)], env=env, cwd=path,
                          capture_output=True, text=True, check=True)
    return time.perf_counter() - started, int(done.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH:MODULE")
    args = parser.parse_args()
    trees = {}
    for spec in args.tree:
        name, _, rest = spec.partition("=")
        path, _, module = rest.rpartition(":")
        trees[name] = (Path(path).resolve(), module)
    times: dict[str, list[float]] = {name: [] for name in trees}
    modules: dict[str, int] = {}
    for path, module in trees.values():  # one warm-up run each (file caches)
        run_once(path, module)
    for _ in range(args.runs):
        for name, (path, module) in trees.items():
            seconds, modules[name] = run_once(path, module)
            times[name].append(seconds)
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values) * 1000:.0f} ms "
              f"[{min(values) * 1000:.0f}-{max(values) * 1000:.0f}] over {len(values)} runs, "
              f"{modules[name]} modules imported")


if __name__ == "__main__":
    main()
