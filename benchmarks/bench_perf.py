"""Per-turn latency broken down by component, and click-to-next-slate with and without
next-slate prefetch. Prints JSON.

    .venv/bin/python benchmarks/bench_perf.py [--turns 5] [--sessions 5] [--latency 0.3]

``--latency`` adds a fixed delay to every generator call, standing in for an LLM provider's
round trip (the embedded template generator answers in about a millisecond).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from typing import Any

from pasta_core import get_plugins
from pasta_core.config import EpisodeConfig
from pasta_core.episode import Agent, derive_seed
from pasta_core.session import Session
from pasta_core.users import SimulatedUser

TIMES: dict[str, float] = defaultdict(float)


class Timed:
    """Adds the wall time of every call of ``method`` on ``inner`` to TIMES[label]."""

    def __init__(self, inner: Any, method: str, label: str, delay: float = 0.0) -> None:
        self._inner, self._method, self._label, self._delay = inner, method, label, delay

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            if self._delay:
                time.sleep(self._delay)
            try:
                return attr(*args, **kwargs)
            finally:
                TIMES[self._label] += time.perf_counter() - start

        return timed


def _agent(latency: float) -> Agent:
    plugins = get_plugins()
    return Agent(
        generator=Timed(plugins.create("generator", "template"), "generate", "generator", latency),
        selector=Timed(plugins.create("selector", "random"), "select", "selector"),
        t2i=Timed(plugins.create("t2i", "procedural"), "render", "t2i"),
    )


def breakdown(turns: int, sessions: int, persist: bool) -> dict[str, float]:
    """Mean seconds per turn spent in each component, prefetch off, no think time. With
    ``persist`` the session writes its folder (images, grid, Parquet) as `pasta run` does."""
    TIMES.clear()
    model = get_plugins().create("user-model", "simple")
    user = SimulatedUser(Timed(model, "utilities", "user"), 0)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        for i in range(sessions):
            folder = f"{out}/{i}" if persist else None
            session = Session(_agent(0.0), EpisodeConfig(turns=turns), seed=i, folder=folder, prefetch=False)
            session.start("a white cat")
            while not session.done:
                answer = user.answer(session.history, session.columns, derive_seed(i, session.turn, 3))
                session.choose(answer.choice)
            session.close()
    total = time.perf_counter() - start
    n = turns * sessions
    parts = {k: v / n for k, v in TIMES.items()}
    parts["framework"] = total / n - sum(parts.values())
    parts["total"] = total / n
    parts["framework_share"] = parts["framework"] / parts["total"]
    return {k: round(v, 5) for k, v in parts.items()}


def click_to_next_slate(prefetch: bool, latency: float, turns: int, think: float = 0.5) -> dict[str, float]:
    """Seconds from choose() to the next slate's images, with a person 'looking' for ``think`` s."""
    TIMES.clear()
    waits = []
    with tempfile.TemporaryDirectory() as out:
        session = Session(_agent(latency), EpisodeConfig(turns=turns), seed=0, folder=out, prefetch=prefetch)
        session.start("a lighthouse on a cliff")
        while not session.done:
            time.sleep(think)
            start = time.perf_counter()
            session.choose(1)
            if not session.done:
                waits.append(time.perf_counter() - start)
        session.close()
    t2i_per_turn = TIMES["t2i"] / turns
    return {"click_to_next_slate_s": round(statistics.median(waits), 4), "t2i_per_turn_s": round(t2i_per_turn, 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "per_turn_seconds_in_memory": breakdown(args.turns, args.sessions, persist=False),
        "per_turn_seconds_persisted": breakdown(args.turns, args.sessions, persist=True),
        "prefetch": {
            f"template+{args.latency}s_latency": {
                "off": click_to_next_slate(False, args.latency, args.turns),
                "on": click_to_next_slate(True, args.latency, args.turns),
            },
            "template": {
                "off": click_to_next_slate(False, 0.0, args.turns),
                "on": click_to_next_slate(True, 0.0, args.turns),
            },
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
