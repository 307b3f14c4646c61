"""What the web server holds in memory after loads of visitors, by kind. Prints JSON.

    .venv/bin/python benchmarks/web_memory.py [--sessions 30 30] [--think 1] [--tracemalloc 6]
    # the same against an older web app (its plugins/ folder, e.g. from git archive):
    .venv/bin/python benchmarks/web_memory.py --baseline-server /tmp/before/plugins

It serves ``pasta serve`` on 127.0.0.1 with the in-server probe of
``benchmarks/web_memory_probe.py`` (through a ``sitecustomize`` on the server's
``PYTHONPATH``), plays one session, then each load of ``--sessions`` concurrent visitors as
``benchmarks/bench_web.py`` does (bounded: 127.0.0.1 only, a request and time budget), and
``--settle`` seconds after each asks the probe what the process holds: the resident memory
by kind (main heap, glibc's other arenas, Arrow's mimalloc reservation, Python's object
arenas, other anonymous memory), glibc's arenas and their memory in use, the same after
``malloc_trim(0)``, PIL images alive, the pictogram cache, SQLite's memory and the threads.
"After one session" is the baseline the loads are compared with. With ``--tracemalloc N``
the server traces Python allocations (N frames; much slower) and the biggest differences
between the baseline and the last load are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import bench_web  # noqa: E402 - this folder's bench, found through the path above


def ask(folder: Path, name: str, timeout: float = 120) -> dict[str, Any]:
    """The probe's report ``name`` (written by the server's probe thread)."""
    (folder / f"trigger-{name}").touch()
    report = folder / f"report-{name}.json"
    deadline = time.monotonic() + timeout
    while not report.exists() or (folder / f"trigger-{name}").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server's memory probe did not answer {name!r}")
        time.sleep(0.2)
    return json.loads(report.read_text())


def traced_differences(folder: Path, first: str, last: str, top: int = 8) -> list[str]:
    import tracemalloc

    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before = tracemalloc.Snapshot.load(str(folder / f"snapshot-{first}.pickle")).filter_traces(filters)
    after = tracemalloc.Snapshot.load(str(folder / f"snapshot-{last}.pickle")).filter_traces(filters)
    return [f"{s.size_diff / 2**20:+.3f} MiB {s.count_diff:+d} blocks {s.traceback.format()[-1].strip()}"
            for s in after.compare_to(before, "filename")[:top]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, nargs="+", default=[30, 30], help="Concurrent visitors per load.")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--think", type=float, default=1.0, help="Seconds a visitor looks before clicking.")
    parser.add_argument("--settle", type=float, default=15.0, help="Seconds after a load before memory is read.")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES", help="Trace Python allocations.")
    parser.add_argument("--max-requests", type=int, default=60000)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--baseline-server", metavar="DIR", default=None,
                        help="Serve the web app in DIR (an older version's plugins/ folder) to compare.")
    args = parser.parse_args()
    args.poll, args.no_belief = 0.2, False  # what bench_web's loads read
    budget = bench_web.Budget(args.max_requests, args.max_seconds)
    stages: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as probe:
        site = Path(probe) / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text("import web_memory_probe\n\nweb_memory_probe.install()\n")
        saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "PASTA_MEMORY_PROBE", "PYTHONTRACEMALLOC")}
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), str(Path(__file__).parent),
                                                                   saved["PYTHONPATH"]]))
        os.environ["PASTA_MEMORY_PROBE"] = probe
        if args.tracemalloc:
            os.environ["PYTHONTRACEMALLOC"] = str(args.tracemalloc)
        port = bench_web.free_port()
        try:
            server = bench_web.start_server(data, port, ["--turns", str(args.turns)], args.baseline_server)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        base = f"http://{bench_web.HOST}:{port}"
        try:
            time.sleep(5)  # the server settles
            stages["idle"] = ask(Path(probe), "idle")
            stages["after_one_session"] = {"load": bench_web.run_load(base, server.pid, 1, budget, args),
                                           **ask(Path(probe), "one")}
            for i, sessions in enumerate(args.sessions):
                load = bench_web.run_load(base, server.pid, sessions, budget, args)
                stages[f"after_load_{i + 1}_of_{sessions}"] = {"load": load, **ask(Path(probe), f"load{i + 1}")}
            if args.tracemalloc:
                stages["python_differences_baseline_to_last_load"] = traced_differences(
                    Path(probe), "one", f"load{len(args.sessions)}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps({"server": args.baseline_server or "this checkout", "stages": stages}, indent=1))


if __name__ == "__main__":
    main()
