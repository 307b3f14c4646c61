"""Web app figures: time from a click to the next full grid (and to the updated belief
view), and server memory with N concurrent visitors, against a real ``pasta serve`` on
127.0.0.1. Prints JSON.

    .venv/bin/python benchmarks/bench_web.py [--sessions 10 30] [--batches 1] [--max-requests 60000] [--max-seconds 600]

    # the same load against an older web app, e.g. the one before issue 22:
    git archive a1d96a8 plugins/pasta_web | tar -x -C /tmp/before
    .venv/bin/python benchmarks/bench_web.py --sessions 30 30 --baseline-server /tmp/before/plugins

The load is bounded: only 127.0.0.1, at most ``--max-requests`` requests and
``--max-seconds`` seconds in all. Each simulated visitor (own cookie) behaves as the page
does: it creates a session, polls the session's state ``--poll`` seconds apart (the page's
0.2 s; each poll waits on the server until there is something new to show) while pictures
are being made or the belief view is behind, fetches each picture
once as it appears (the grid's and the belief view's examples: the page keeps the ones it
has), looks ``--think`` seconds at each full grid, clicks a column, then answers the
evaluation phase and finishes. "Click to full grid" runs from sending the click to having
all 16 pictures of the next turn; "click to belief" to the state showing the belief after
that click. Server memory is the resident set size of the server process, sampled every
0.1 s; "after" is measured ``--settle`` seconds after a load ends (the server hands freed
memory back every 10 s). ``os.getloadavg()`` before and after says how busy the machine was.

Per load it prints: click to full grid and click to belief (n, p50, p95, max), the server's
peak RSS, its RSS at the end and ``--settle`` s after, its CPU time per click (user +
system time of the server process over the load / clicks: a figure that depends little on
how busy the machine is, unlike the latencies), requests per click, the bench client's
own CPU time and the load averages. ``--think 1`` clicks as fast as a hurried visitor;
``--think 5`` is closer to a person looking at 16 pictures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
#: The package that runs ``pasta`` (``pasta_cli``; ``pasta_core`` in older checkouts).
_CLI = "pasta_cli" if importlib.util.find_spec("pasta_cli") else "pasta_core"


class Budget:
    """A shared request and time budget; exceeding it stops the load."""

    def __init__(self, max_requests: int, max_seconds: float) -> None:
        self.left = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.lock = threading.Lock()

    def take(self) -> None:
        with self.lock:
            if self.left <= 0 or time.monotonic() > self.deadline:
                raise TimeoutError("load budget spent")
            self.left -= 1


class Visitor:
    """One person's browser: its own cookie, the page's polling, pictures fetched once."""

    def __init__(self, base: str, budget: Budget, poll: float, belief: bool) -> None:
        self.client = httpx.Client(base_url=base, timeout=120)
        self.budget = budget
        self.poll = poll
        self.belief = belief
        self.fetched: set[str] = set()
        self.grid_waits: list[float] = []
        self.belief_waits: list[float] = []

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        self.budget.take()
        response = self.client.request(method, path, json=body) if body is not None else self.client.request(method, path)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def fetch(self, url: str | None) -> None:
        if url and url not in self.fetched:
            self.call("GET", url)
            self.fetched.add(url)

    def wait_for_turn(self, session_id: str, turn: int, clicked: float | None) -> dict[str, Any]:
        """Poll as the page does until turn ``turn`` is on show with all its pictures (and
        the belief after ``turn - 1`` clicks, when the view is on)."""
        grid_at = belief_at = None
        version = None
        while True:
            # As the page does: after the first look, each poll names the version on screen
            # and the server answers when there is something newer.
            after = "" if version is None else f"?after={version}"
            state = self.call("GET", f"/api/sessions/{session_id}{after}").json()
            live = state.get("live")
            if live is None:  # the picking phase is over
                return state
            if live["status"] == "error":
                raise RuntimeError(live["error"])
            version = live.get("version")  # a server without waiting polls has none
            if live["turn"] == turn:
                for column in live["columns"]:
                    for url in column["images"]:
                        self.fetch(url)
                belief = live.get("belief")
                if belief is not None:
                    for kind in belief["types"]:
                        for url in kind["examples"]:
                            self.fetch(url)
                complete = live["status"] == "ready" and all(url for c in live["columns"] for url in c["images"])
                if complete and grid_at is None:
                    grid_at = time.perf_counter()
                if belief is not None and belief["clicks"] >= turn - 1 and belief_at is None:
                    belief_at = time.perf_counter()
                if grid_at is not None and (belief_at is not None or not self.belief):
                    if clicked is not None:
                        self.grid_waits.append(grid_at - clicked)
                        if belief_at is not None:
                            self.belief_waits.append(belief_at - clicked)
                    return state
            time.sleep(self.poll)

    def session(self, prompt: str, think: float, turns: int) -> None:
        session_id = self.call("POST", "/api/sessions", {"prompt": prompt}).json()["id"]
        self.wait_for_turn(session_id, 1, None)
        for turn in range(1, turns + 1):
            time.sleep(think)
            clicked = time.perf_counter()
            self.call("POST", f"/api/sessions/{session_id}/choice", {"turn": turn, "column": turn % 4})
            if turn < turns:
                self.wait_for_turn(session_id, turn + 1, clicked)
        while self.call("GET", f"/api/sessions/{session_id}").json()["phase"] != "evaluation":
            time.sleep(self.poll)
        for turn in range(1, turns + 1):
            answers = {"preferred": 0, "satisfaction": [3, 4, 2, 5], "reason": "bench"}
            if turn > 1:
                answers["comparison"] = "same"
            self.call("PUT", f"/api/sessions/{session_id}/evaluation/{turn}", answers)
        self.call("PUT", f"/api/sessions/{session_id}/overall", {"score": 4})
        self.call("POST", f"/api/sessions/{session_id}/finish", {})


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(folder: str, port: int, extra: list[str], baseline: str | None = None) -> subprocess.Popen[bytes]:
    """``pasta serve`` on 127.0.0.1; with ``baseline``, the web app found in that folder
    (e.g. an older version's ``plugins/``, from ``git archive``) instead of this one."""
    command = [sys.executable, "-m", _CLI, "serve", "--host", HOST, "--port", str(port),
               "--db", f"{folder}/pasta.sqlite3", "--log-level", "warning", "--max-sessions", "10000", *extra]
    env = dict(os.environ)
    if baseline:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [baseline, env.get("PYTHONPATH")]))
    usage = subprocess.run([*command[:4], "--help"], env=env, capture_output=True, text=True).stdout
    if "--max-live-per-address" in usage:  # every visitor comes from 127.0.0.1: lifted for the bench
        command += ["--max-live-per-address", "10000", "--new-sessions-per-address", "1000000"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/api/config", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
        if server.poll() is not None:
            raise RuntimeError(server.stderr.read().decode() if server.stderr else "server exited")
    server.kill()
    raise RuntimeError("server did not start in 60 s")


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between the closest ranks."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_s": round(percentile(ordered, 0.5), 3),
        "p95_s": round(percentile(ordered, 0.95), 3),
        "max_s": round(ordered[-1], 3),
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_load(base: str, pid: int, sessions: int, budget: Budget, args: argparse.Namespace) -> dict[str, Any]:
    visitors = [Visitor(base, budget, args.poll, not args.no_belief) for _ in range(sessions)]
    errors: list[str] = []
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss_mib(pid))
            time.sleep(0.1)

    def visit(i: int) -> None:
        try:
            visitors[i].session(f"a lighthouse on a cliff number {i}", args.think, args.turns)
        except Exception as exc:  # reported in the JSON
            errors.append(f"{type(exc).__name__}: {exc}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = loadavg()
    cpu_before, own_before = cpu_seconds(pid), time.process_time()
    requests_before = budget.left
    start = time.perf_counter()
    threads = [threading.Thread(target=visit, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    server_cpu, own_cpu = cpu_seconds(pid) - cpu_before, time.process_time() - own_before
    done.set()
    sampler.join()
    end = rss_mib(pid)
    clicks = sessions * args.turns
    time.sleep(args.settle)
    return {
        "sessions": sessions,
        "click_to_full_grid": summary([w for v in visitors for w in v.grid_waits]),
        "click_to_belief": summary([w for v in visitors for w in v.belief_waits]),
        "server_rss_mib_peak": round(max(samples), 1),
        "server_rss_mib_at_end": round(end, 1),
        f"server_rss_mib_{args.settle:g}s_after": round(rss_mib(pid), 1),
        "wall_s": round(wall, 2),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_click": round(1000 * server_cpu / clicks, 1),
        "requests_per_click": round((requests_before - budget.left) / clicks, 1),
        "bench_client_cpu_s": round(own_cpu, 2),
        "loadavg_before": before,
        "loadavg_after": loadavg(),
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 30], help="Concurrent visitors per load.")
    parser.add_argument("--batches", type=int, default=1, help="Loads of each size, one after the other.")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--think", type=float, default=1.0, help="Seconds a visitor looks before clicking.")
    parser.add_argument("--poll", type=float, default=0.2, help="Seconds between polls (the page's 0.2).")
    parser.add_argument("--settle", type=float, default=15.0, help="Seconds after a load before memory is read.")
    parser.add_argument("--max-requests", type=int, default=60000)
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--no-belief", action="store_true", help="Serve without the belief view.")
    parser.add_argument("--baseline-server", metavar="DIR", default=None,
                        help="Serve the web app in DIR (an older version's plugins/ folder) to compare.")
    args = parser.parse_args()
    extra = ["--turns", str(args.turns)] + (["--no-belief"] if args.no_belief else [])
    budget = Budget(args.max_requests, args.max_seconds)
    port = free_port()
    loads = []
    with tempfile.TemporaryDirectory() as folder:
        started = loadavg()
        server = start_server(folder, port, extra, args.baseline_server)
        try:
            base = f"http://{HOST}:{port}"
            idle = rss_mib(server.pid)
            single = run_load(base, server.pid, 1, budget, args)
            baseline = single[f"server_rss_mib_{args.settle:g}s_after"]
            for sessions in args.sessions:
                for _ in range(args.batches):
                    loads.append(run_load(base, server.pid, sessions, budget, args))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    result = {
        "server": f"web app from {args.baseline_server}" if args.baseline_server else "this checkout",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "components": "template generator, procedural T2I, random selector, simple user model (belief view "
        + ("off" if args.no_belief else "on") + ")",
        "loadavg_at_start": started,
        "server_rss_mib_idle": round(idle, 1),
        "server_rss_mib_after_one_session": baseline,
        "one_session": single,
        "loads": loads,
        "requests_used": args.max_requests - budget.left,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
