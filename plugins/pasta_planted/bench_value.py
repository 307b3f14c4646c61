"""Bench stage 4: value models trained by IQL on three data regimes.

- human: the human-like training sessions, rewards labelled by the learned user model
  (the utility of the chosen column under each session's most likely learned type;
  sparse: final turn only), as the paper labels its human sessions;
- simulated: trajectories simulated with the learned user model (their own rewards);
- mixed: both.

Each trained model becomes a ``value`` selector for the agent evaluation.
"""

from __future__ import annotations

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
    for session, (t, k) in enumerate(zip(data.trajectories, types)):
        turns = []
        for n, turn in enumerate(t.turns, start=1):
            reward = float(utilities[row, k, turn.choice]) if n == len(t.turns) else 0.0
            turns.append(attrs.evolve(turn, reward=reward))
            row += 1
        out.append(attrs.evolve(t, turns=turns))
    return out


def train_regimes(bench: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train one value model per data regime: (selector factories, figures)."""
    from pasta_planted.bench import StageSkipped

    try:
        import pasta_core.iql  # noqa: F401
    except ImportError as exc:
        raise StageSkipped(f"the IQL trainer (issue #4, pasta_core.iql) is not available: {exc}") from exc
    raise StageSkipped("IQL integration pending")


__all__ = ["labelled_human_sessions", "train_regimes", "np"]
