"""Bench stage 4: value models trained by IQL on three data regimes.

- human: the human-like training sessions, rewards labelled by the learned user model
  (the utility of the chosen column under each session's most likely learned type;
  sparse: final turn only), as the paper labels its human sessions;
- simulated: trajectories simulated with the learned user model (their own rewards);
- mixed: both.

Each trained model becomes a ``value`` selector for the agent evaluation.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np


def labelled_human_sessions(bench: Any) -> list[Any]:
    """Human-like training sessions with sparse rewards from the learned user model."""
    from pasta_clip_em.evaluate import sample_posteriors
    from pasta_planted.bench_em import learned_utilities

    em, labels, data = bench.state["em"], bench.state["train_labels"], bench.state["train"]
    utilities = learned_utilities(em["model"], labels)  # (n turns, K, L), sessions in order
    types = sample_posteriors(em["model"], em["prior"], labels).argmax(1)
    out, row = [], 0
    for t, k in zip(data.trajectories, types):
        turns = []
        for n, turn in enumerate(t.turns, start=1):
            reward = float(utilities[row, k, turn.choice]) if n == len(t.turns) else 0.0
            turns.append(attrs.evolve(turn, reward=reward))
            row += 1
        out.append(attrs.evolve(t, turns=turns))
    return out


def train_regimes(bench: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train one value model per data regime: (checkpoint folders, figures)."""
    from pasta_planted.bench import StageSkipped

    try:
        from pasta_core.iql import IQLConfig, build_transitions, load_rewarded, train_iql
        from pasta_core.plugins import get_plugins
    except ImportError as exc:
        raise StageSkipped(f"the IQL trainer or value plugin (issue #4) is not available: {exc}") from exc
    human = labelled_human_sessions(bench)
    human_rewards = [[0.0] * (len(t.turns) - 1) + [float(t.turns[-1].reward)] for t in human]
    regimes: dict[str, tuple[list[Any], list[list[float]]]] = {"human": (human, human_rewards)}
    if "simulated" in bench.state:
        sim, sim_rewards = load_rewarded([bench.state["simulated"]], mode="sparse")
        regimes["simulated"] = (sim, sim_rewards)
        regimes["mixed"] = (human + sim, human_rewards + sim_rewards)
    # Learned utilities are on the score model's temperature scale (tens); one common
    # factor puts the final rewards near unit spread without changing any preference.
    scale = float(np.std([r[-1] for r in human_rewards])) or 1.0
    regimes = {name: (t, [[x / scale for x in r] for r in rs]) for name, (t, rs) in regimes.items()}
    sizes, selectors = bench.sizes, {}
    figures: dict[str, Any] = {}
    for regime, (trajectories, rewards) in regimes.items():
        model = get_plugins().create("value-model", "embedded", seed=bench.seed)
        config = IQLConfig(steps=sizes.iql_steps, lr=1e-2, batch_size=128, target_update=min(256, sizes.iql_steps),
                           seed=bench.seed, save_every=10**9)
        started = time.perf_counter()
        train_iql(model, build_transitions(trajectories, rewards), config,
                            out=bench.out / f"value-{regime}", resume=False, progress=bench.progress)
        selectors[regime] = bench.out / f"value-{regime}"
        final = np.array([r[-1] for r in rewards])
        figures[regime] = {"trajectories": len(trajectories), "final_reward_mean": float(final.mean()),
                           "steps": sizes.iql_steps, "seconds": round(time.perf_counter() - started, 2)}
    if "simulated" not in regimes:
        figures["note"] = "simulation stage skipped: only the human-like regime was trained"
    figures["reward_scale"] = scale
    return selectors, figures


__all__ = ["labelled_human_sessions", "train_regimes"]
