"""Web app figures: time from a click to the next full grid, and server memory with N
concurrent sessions, against a real ``pasta serve`` on 127.0.0.1. Prints JSON.

    .venv/bin/python benchmarks/bench_web.py [--sessions 10] [--max-requests 20000] [--max-seconds 300]

The load is bounded: only 127.0.0.1, at most ``--max-requests`` requests and
``--max-seconds`` seconds in all. Each simulated visitor (own cookie) creates a session,
waits for every grid to be complete (the 16 images fetched), clicks a column after
``--think`` seconds, answers the evaluation phase and finishes. "Click to full grid" is
measured from sending the click to having all 16 images of the next turn; the page polls
every 0.2 s, so a person may see the grid up to that much later. Server memory is the
resident set size of the server process, sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"


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
    def __init__(self, base: str, budget: Budget) -> None:
        self.client = httpx.Client(base_url=base, timeout=60)
        self.budget = budget

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        self.budget.take()
        response = self.client.request(method, path, json=body) if body is not None else self.client.request(method, path)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def full_grid(self, session_id: str, turn: int) -> dict[str, Any]:
        """Poll until turn ``turn`` is rendered, then fetch its 16 images."""
        while True:
            state = self.call("GET", f"/api/sessions/{session_id}").json()
            live = state.get("live")
            if live is None or (live["status"] == "ready" and live["turn"] == turn):
                break
            if live["status"] == "error":
                raise RuntimeError(live["error"])
            time.sleep(0.01)
        if live is not None:
            for column in live["columns"]:
                for url in column["images"]:
                    self.call("GET", url)
        return state

    def session(self, prompt: str, think: float, turns: int) -> list[float]:
        waits = []
        session_id = self.call("POST", "/api/sessions", {"prompt": prompt}).json()["id"]
        self.full_grid(session_id, 1)
        for turn in range(1, turns + 1):
            time.sleep(think)
            start = time.perf_counter()
            self.call("POST", f"/api/sessions/{session_id}/choice", {"turn": turn, "column": turn % 4})
            if turn < turns:
                self.full_grid(session_id, turn + 1)
                waits.append(time.perf_counter() - start)
        for turn in range(1, turns + 1):
            answers = {"preferred": 0, "satisfaction": [3, 4, 2, 5], "reason": "bench"}
            if turn > 1:
                answers["comparison"] = "same"
            self.call("PUT", f"/api/sessions/{session_id}/evaluation/{turn}", answers)
        self.call("PUT", f"/api/sessions/{session_id}/overall", {"score": 4})
        self.call("POST", f"/api/sessions/{session_id}/finish", {})
        return waits


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(folder: str, port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pasta_core", "serve", "--host", HOST, "--port", str(port),
               "--db", f"{folder}/pasta.sqlite3", "--log-level", "warning", "--max-sessions", "1000", *extra]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values),
        "median_s": round(statistics.median(ordered), 4),
        "p90_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 4),
        "max_s": round(ordered[-1], 4),
    }


def run_load(base: str, pid: int, sessions: int, budget: Budget, think: float, turns: int) -> dict[str, Any]:
    waits: list[float] = []
    errors: list[str] = []
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss_mib(pid))
            time.sleep(0.1)

    def visit(i: int) -> None:
        try:
            waits.extend(Visitor(base, budget).session(f"a lighthouse on a cliff number {i}", think, turns))
        except Exception as exc:  # reported in the JSON
            errors.append(f"{type(exc).__name__}: {exc}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    visitors = [threading.Thread(target=visit, args=(i,)) for i in range(sessions)]
    for thread in visitors:
        thread.start()
    for thread in visitors:
        thread.join()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return {
        "sessions": sessions,
        "click_to_full_grid": summary(waits) if waits else None,
        "server_rss_mib_peak": round(max(samples), 1),
        "server_rss_mib_end": round(rss_mib(pid), 1),
        "wall_s": round(wall, 2),
        "errors": errors[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--think", type=float, default=1.0, help="Seconds a visitor looks before clicking.")
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--no-belief", action="store_true", help="Serve without the belief view.")
    args = parser.parse_args()
    extra = ["--turns", str(args.turns)] + (["--no-belief"] if args.no_belief else [])
    budget = Budget(args.max_requests, args.max_seconds)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(folder, port, extra)
        try:
            base = f"http://{HOST}:{port}"
            idle = rss_mib(server.pid)
            single = run_load(base, server.pid, 1, budget, args.think, args.turns)
            after_single = rss_mib(server.pid)
            concurrent = run_load(base, server.pid, args.sessions, budget, args.think, args.turns)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "components": "template generator, procedural T2I, random selector, simple user model (belief view "
        + ("off" if args.no_belief else "on") + ")",
        "server_rss_mib_idle": round(idle, 1),
        "server_rss_mib_after_one_session": round(after_single, 1),
        "one_session": single,
        f"{args.sessions}_concurrent_sessions": concurrent,
        "requests_used": args.max_requests - budget.left,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
