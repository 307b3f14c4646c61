"""Per-turn latency by component, and click-to-next-slate with and without prefetch."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from typing import Any


class Timed:
    """Forwards to ``inner``; adds the wall time of every ``method`` call to ``times[label]``
    (after an optional fixed ``delay``, standing in for a provider's round trip)."""

    def __init__(self, inner: Any, method: str, label: str, times: dict[str, float], delay: float = 0.0) -> None:
        self._inner, self._method, self._label, self._times, self._delay = inner, method, label, times, delay

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
                self._times[self._label] += time.perf_counter() - start

        return timed


def _agent(plugins: Any, times: dict[str, float], latency: float = 0.0) -> Any:
    from pasta_core.engine import Agent

    return Agent(
        generator=Timed(plugins.create("generator", "template"), "generate", "generator", times, latency),
        selector=Timed(plugins.create("selector", "random"), "select", "selector", times),
        t2i=Timed(plugins.create("t2i", "procedural"), "render", "t2i", times),
    )


def breakdown(plugins: Any, turns: int, sessions: int, persist: bool) -> dict[str, float]:
    """Mean seconds per turn in each component and in the framework (everything else:
    the episode loop, history, seeds, checks and, with ``persist``, writing the session
    folder as ``pasta run`` does). Prefetch off, no think time.

    A turn runs from ``start()`` / ``choose()`` to the next slate. ``close()``, which
    waits for the background writer to finish the last slate's files once per session,
    is reported apart (``close_per_session``) and in ``framework_share_with_close``."""
    from pasta_core.config import EpisodeConfig
    from pasta_core.engine import answer_turn
    from pasta_core.session import Session
    from pasta_png import png_bytes
    from pasta_users import SimulatedUser

    times: dict[str, float] = defaultdict(float)
    user = SimulatedUser(Timed(plugins.create("user-model", "simple"), "utilities", "user", times), 0)
    agent = _agent(plugins, times)
    turns_s = close_s = 0.0
    with tempfile.TemporaryDirectory() as out:
        for i in range(sessions):
            folder = f"{out}/{i}" if persist else None
            start = time.perf_counter()
            session = Session(agent, EpisodeConfig(turns=turns), seed=i, folder=folder, prefetch=False,
                              encode=png_bytes)
            session.start("a white cat")
            while not session.done:
                answer = answer_turn(user, session.history, session.columns, session.streams)
                session.choose(answer.choice)
            closing = time.perf_counter()
            session.close()
            turns_s += closing - start
            close_s += time.perf_counter() - closing
    n = turns * sessions
    parts = {k: v / n for k, v in times.items()}
    parts["framework"] = turns_s / n - sum(parts.values())
    parts["total"] = turns_s / n
    parts["framework_share"] = parts["framework"] / parts["total"]
    parts["close_per_session"] = close_s / sessions
    parts["framework_share_with_close"] = (parts["framework"] + close_s / n) / (parts["total"] + close_s / n)
    return {k: round(v, 5) for k, v in parts.items()}


def click_to_next_slate(plugins: Any, prefetch: bool, latency: float, turns: int,
                        think: float = 0.5) -> dict[str, float]:
    """Median seconds from ``choose()`` to the next slate's images, the person 'looking' at
    each slate for ``think`` s; and the T2I time of one turn for comparison."""
    from pasta_core.config import EpisodeConfig
    from pasta_core.session import Session
    from pasta_png import png_bytes

    times: dict[str, float] = defaultdict(float)
    waits = []
    with tempfile.TemporaryDirectory() as out:
        session = Session(_agent(plugins, times, latency), EpisodeConfig(turns=turns), seed=0, folder=out,
                          prefetch=prefetch, encode=png_bytes)
        session.start("a lighthouse on a cliff")
        while not session.done:
            time.sleep(think)
            start = time.perf_counter()
            session.choose(1)
            if not session.done:
                waits.append(time.perf_counter() - start)
        session.close()
    return {"click_to_next_slate_s": round(statistics.median(waits), 4), "t2i_per_turn_s": round(times["t2i"] / turns, 4)}


def latency_section(plugins: Any, quick: bool, latency: float) -> dict[str, Any]:
    turns, sessions = (3, 2) if quick else (5, 5)
    result: dict[str, Any] = {
        "components": "template generator, random selector, procedural T2I (256 px, its default), simple user model",
        "per_turn_in_memory": breakdown(plugins, turns, sessions, persist=False),
        "per_turn_persisted": breakdown(plugins, turns, sessions, persist=True),
        "prefetch": {},
    }
    for delay in (latency, 0.0):
        key = f"generator +{delay}s" if delay else "generator (embedded)"
        result["prefetch"][key] = {"off": click_to_next_slate(plugins, False, delay, turns),
                                   "on": click_to_next_slate(plugins, True, delay, turns)}
    return result
