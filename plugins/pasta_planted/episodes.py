"""Episodes with planted raters: choices, satisfaction and comparisons from the known truth.

:func:`run_planted_episodes` runs many episodes in lock-step on the engine
(:func:`pasta_core.engine.run_episodes`: one batched T2I call per turn) with a
:class:`PlantedRater` answering each. Each episode has its own selector (the oracle knows
its user's type), its planted type, prompt and seed. Every turn records the rater's
answers the paper collected: the chosen column, a 1-5 satisfaction score per column and
better/same/worse against the previous turn. True utilities go into the trajectory's
metadata (``true_utility``: the chosen column's utility per turn; ``expected_utility``:
its expectation under the choice probabilities), so evaluations need no re-rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from pasta_core.config import EpisodeConfig
from pasta_core.engine import Agent, run_episodes
from pasta_core.protocols import Answer, Selector
from pasta_core.types import Column, History, Trajectory
from pasta_planted.features import measured_attributes
from pasta_planted.world import PlantedWorld


def satisfaction_scores(world: PlantedWorld, utilities: np.ndarray, rng: np.random.Generator) -> tuple[int, ...]:
    """1-5 satisfaction per column from its utility, with rater noise."""
    raters = world.config.raters
    noisy = utilities + rng.normal(0, raters.satisfaction_noise, size=len(utilities))
    return tuple(int(s) + 1 for s in np.searchsorted(np.asarray(raters.satisfaction_cuts), noisy))


def comparison_answer(world: PlantedWorld, current: float, previous: float, rng: np.random.Generator) -> str:
    """better / same / worse: the chosen column against the previous turn's chosen one."""
    raters = world.config.raters
    change = current - previous + rng.normal(0, raters.comparison_noise)
    if change > raters.comparison_margin:
        return "better"
    if change < -raters.comparison_margin:
        return "worse"
    return "same"


@attrs.define
class EpisodeBatch:
    """What one call of :func:`run_planted_episodes` produced."""

    trajectories: list[Trajectory]
    utilities: list[list[np.ndarray]]  # per episode, per turn: (K, L) true column utilities
    columns: list[list[list[Column]]] | None = None  # per episode, per turn (when kept)


class PlantedRater:
    """A planted person of one type: chooses by the planted softmax and rates each turn
    (1-5 satisfaction per column, better/same/worse) from the known truth.

    A :class:`~pasta_core.protocols.Rater` for the engine: the choice is drawn from the
    turn's ``choice`` stream, the ratings from its independent ``rating`` stream. It keeps
    what an evaluation needs: every turn's (K, L) true utilities, the chosen column's
    utility and its expectation under the choice probabilities."""

    def __init__(self, world: PlantedWorld, user_type: int) -> None:
        self.world = world
        self.user_type = int(user_type)
        self.utilities: list[np.ndarray] = []
        self.chosen: list[float] = []
        self.expected: list[float] = []

    def answer(self, history: History, columns: Sequence[Column], seed: int) -> Answer:
        measured = measured_attributes([image for column in columns for image in column.images])
        u_all = self.world.column_utilities(
            self.world.attribute_utilities(history.initial_prompt, measured), [len(c.images) for c in columns]
        )
        u = u_all[self.user_type]
        probs = self.world.choice_probabilities(u)
        choice = int(np.random.default_rng(seed).choice(len(u), p=probs))
        self.utilities.append(u_all)
        self.chosen.append(float(u[choice]))
        self.expected.append(float(probs @ u))
        return Answer(choice, None, tuple(float(x) for x in u))

    def rate(self, history: History, columns: Sequence[Column], answer: Answer, seed: int) -> Answer:
        rng = np.random.default_rng(seed)
        u = np.asarray(answer.utilities, dtype=np.float64)
        previous = self.chosen[-2] if len(self.chosen) > 1 else None
        comparison = comparison_answer(self.world, float(u[answer.choice]), previous, rng) if previous is not None else None
        return attrs.evolve(answer, satisfaction=satisfaction_scores(self.world, u, rng), comparison=comparison)


def run_planted_episodes(
    world: PlantedWorld,
    generator: Any,
    selectors: Sequence[Selector],
    t2i: Any,
    prompts: Sequence[str],
    types: Sequence[int],
    seeds: Sequence[int],
    session_ids: Sequence[str],
    config: EpisodeConfig = EpisodeConfig(),
    rewards: bool = False,
    keep_columns: bool = False,
    on_turn: Callable[[int], None] | None = None,
) -> EpisodeBatch:
    """Run one episode per prompt with planted raters on the engine (see the module
    docstring); ``selectors[i]`` plays episode i (the oracle knows its user's type).

    ``rewards``: fill each turn's reward with the true utility of the chosen column (dense
    or sparse per ``config``); human-like data leaves rewards empty, as people give none.
    """
    raters = [PlantedRater(world, k) for k in types]
    agents = [Agent(generator, selector, t2i) for selector in selectors]
    kept: list[list[list[Column]]] = [[] for _ in prompts]

    def after_turn(turn: int, columns: list[list[Column]]) -> None:
        if keep_columns:
            for i, cols in enumerate(columns):
                kept[i].append(cols)
        if on_turn is not None:
            on_turn(turn)

    played = run_episodes(agents, raters, prompts, config, seeds, session_ids, [None] * len(prompts),
                          on_turn=after_turn, rewards=rewards)
    trajectories = [
        attrs.evolve(t, metadata={"planted_type": r.user_type, "true_utility": [round(x, 6) for x in r.chosen],
                                  "expected_utility": [round(x, 6) for x in r.expected]})
        for t, r in zip(played, raters)
    ]
    return EpisodeBatch(trajectories, [r.utilities for r in raters], kept if keep_columns else None)
