"""Do simulated choices depend on the pixels shown, beyond the user model?

Runs ``--episodes`` simulated episodes (5 turns each) of the simple user model against the
template generator, the random selector and the procedural renderer, through the engine,
twice: with the named streams of :mod:`pasta_core.streams`, and with the seed collisions
of the derivation they replaced (the choice drawn from the seed of column 4's first image,
the generator's and selector's from columns 2's and 3's), emulated by patching the streams.

For each turn it takes ``u``, the first uniform draw of column 4's first image seed (the
number a seeded renderer places things with), and reports how often column 4 is chosen
when ``u < 0.5`` and when ``u >= 0.5`` (with Wilson 95% intervals), the mean choice
probability the user model itself gave column 4 in both groups (what the choices should
follow), and the correlation of "column 4 chosen" with ``u``.

    .venv/bin/python benchmarks/bench_streams.py --episodes 600
"""

from __future__ import annotations

import argparse
import json
import math
from contextlib import contextmanager
from typing import Any

import numpy as np

from pasta_core.config import EpisodeConfig
from pasta_core.engine import Agent, run_episodes
from pasta_core.plugins import get_plugins
from pasta_core.streams import EpisodeStreams
from pasta_users import SimulatedUser


def wilson(hits: int, n: int) -> list[float]:
    """Wilson score 95% interval of a proportion."""
    if n == 0:
        return [math.nan, math.nan]
    p, z = hits / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


@contextmanager
def collided_streams():
    """The old derivation's collisions: choice = column 4, image 1's seed, etc."""
    saved = EpisodeStreams.choice, EpisodeStreams.generator, EpisodeStreams.selector
    EpisodeStreams.choice = lambda self, t: self.images(t, 4, 1)[3][0]  # type: ignore[method-assign]
    EpisodeStreams.generator = lambda self, t: self.images(t, 4, 1)[1][0]  # type: ignore[method-assign]
    EpisodeStreams.selector = lambda self, t: self.images(t, 4, 1)[2][0]  # type: ignore[method-assign]
    try:
        yield
    finally:
        EpisodeStreams.choice, EpisodeStreams.generator, EpisodeStreams.selector = saved


class ProbabilityLog:
    """Wraps the user model to keep the choice probabilities of the type being played."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.rows = inner, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def choice_probabilities(self, intent: str, columns: Any) -> np.ndarray:
        probs = self.inner.choice_probabilities(intent, columns)
        self.rows.append(probs)
        return probs


def measure(episodes: int, image_size: int) -> dict[str, Any]:
    plugins = get_plugins()
    agent = Agent(plugins.create("generator", "template"), plugins.create("selector", "random"),
                  plugins.create("t2i", "procedural", size=image_size))
    model = ProbabilityLog(plugins.create("user-model", "simple"))
    users = [SimulatedUser(model, i % model.num_types) for i in range(episodes)]
    trajectories = run_episodes(agent, users, ["a quiet harbour town at dusk"] * episodes, EpisodeConfig(),
                                seeds=range(episodes))
    chosen, draw, model_p = [], [], []
    rows = iter(model.rows)
    for user, t in zip(users, trajectories):
        for turn in t.turns:
            probs = next(rows)[user.user_type]
            chosen.append(turn.choice == 3)
            draw.append(np.random.default_rng(turn.seeds[3][0]).random())
            model_p.append(float(probs[3]))
    chosen_a, draw_a, model_a = np.array(chosen), np.array(draw), np.array(model_p)
    result: dict[str, Any] = {"turns": len(chosen)}
    for name, group in (("u<0.5", draw_a < 0.5), ("u>=0.5", draw_a >= 0.5)):
        hits, n = int(chosen_a[group].sum()), int(group.sum())
        result[name] = {"column_4_chosen": round(hits / n, 4), "ci95": wilson(hits, n), "n": n,
                        "user_model_probability": round(float(model_a[group].mean()), 4)}
    result["correlation_chosen_vs_u"] = round(float(np.corrcoef(chosen_a, draw_a)[0, 1]), 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    with collided_streams():
        before = measure(args.episodes, args.image_size)
    after = measure(args.episodes, args.image_size)
    report = {"collided (old derivation)": before, "named streams": after}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
