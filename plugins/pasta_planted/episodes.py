"""Episodes with planted raters: choices, satisfaction and comparisons from the known truth.

:func:`run_planted_episodes` runs many episodes in lock-step (one batched T2I call and one
batched attribute measurement per turn). Each episode has its own selector (the oracle
knows its user's type), its planted type, prompt and seed. Every turn records the rater's
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

from pasta_core.config import EpisodeConfig, word_limit
from pasta_core.episode import derive_seed, image_seeds, make_turn, render_slates
from pasta_core.protocols import GenerationRequest, Selector
from pasta_core.types import Candidate, Column, History, Trajectory, check_slate, word_count
from pasta_core.users import Answer
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


def _candidates(generator: Any, history: History, config: EpisodeConfig, seed: int) -> list[Candidate]:
    """The generator's candidates for the next turn (the request :func:`propose` makes)."""
    turn = len(history.turns) + 1
    request = GenerationRequest(
        history=history, turn=turn, categories=config.categories, per_category=config.candidates_per_category,
        word_limit=word_limit(word_count(history.initial_prompt), turn, config.turns, config.word_cap),
        seed=derive_seed(seed, turn, 1),
    )
    return list(generator.generate(request))


def _select_all(selectors: Sequence[Selector], histories: list[History], candidates: list[list[Candidate]],
                config: EpisodeConfig, seeds: Sequence[int]) -> list[list[Candidate]]:
    """Every episode's slate. A selector with ``prefetch`` first sees all of its episodes at
    once (one batched value-model call per turn instead of one per episode)."""
    shared: dict[int, list[int]] = {}
    for i, selector in enumerate(selectors):
        if hasattr(selector, "prefetch"):
            shared.setdefault(id(selector), []).append(i)
    for members in shared.values():
        prefetching: Any = selectors[members[0]]
        prefetching.prefetch([histories[i] for i in members], [candidates[i] for i in members])
    slates = []
    for i, selector in enumerate(selectors):
        turn = len(histories[i].turns) + 1
        slate = list(selector.select(histories[i], candidates[i], config.slate_size, derive_seed(seeds[i], turn, 2)))
        check_slate(slate, candidates[i])
        slates.append(slate)
    return slates


def _measure(world: PlantedWorld, columns: list[list[Column]]) -> list[np.ndarray]:
    """Standardized attributes of every image, one (L*M, 6) array per episode."""
    images = [im for episode in columns for column in episode for im in column.images]
    attributes = measured_attributes(images)
    sizes = np.cumsum([0] + [sum(len(c.images) for c in episode) for episode in columns])
    return [attributes[a:b] for a, b in zip(sizes[:-1], sizes[1:])]


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
    """Run one episode per prompt with planted raters (see the module docstring).

    ``rewards``: fill each turn's reward with the true utility of the chosen column (dense
    or sparse per ``config``); human-like data leaves rewards empty, as people give none.
    """
    n = len(prompts)
    histories = [History(p) for p in prompts]
    utilities: list[list[np.ndarray]] = [[] for _ in range(n)]
    kept: list[list[list[Column]]] = [[] for _ in range(n)]
    chosen_u: list[list[float]] = [[] for _ in range(n)]
    expected_u: list[list[float]] = [[] for _ in range(n)]
    for turn in range(1, config.turns + 1):
        offered = [_candidates(generator, h, config, seed) for h, seed in zip(histories, seeds)]
        proposals = list(zip(offered, _select_all(selectors, histories, offered, config, seeds)))
        all_seeds = [image_seeds(seed, turn, len(slate), config.images_per_prompt)
                     for seed, (_, slate) in zip(seeds, proposals)]
        columns = render_slates(t2i, [slate for _, slate in proposals], all_seeds)
        measured = _measure(world, columns)
        for i in range(n):
            u_all = world.column_utilities(
                world.attribute_utilities(prompts[i], measured[i]), [len(c.images) for c in columns[i]]
            )
            u = u_all[types[i]]
            probs = world.choice_probabilities(u)
            rng = np.random.default_rng(derive_seed(seeds[i], turn, 3))
            choice = int(rng.choice(len(u), p=probs))
            answer = Answer(choice, None, tuple(float(x) for x in u))
            reward = None
            if rewards:
                reward = float(u[choice]) if config.reward_mode == "dense" or turn == config.turns else 0.0
            record = make_turn(proposals[i][0], columns[i], answer, reward)
            rater = np.random.default_rng(derive_seed(seeds[i], turn, 4))
            comparison = comparison_answer(world, u[choice], chosen_u[i][-1], rater) if chosen_u[i] else None
            record = attrs.evolve(record, satisfaction=satisfaction_scores(world, u, rater), comparison=comparison)
            histories[i] = histories[i].append(record)
            utilities[i].append(u_all)
            chosen_u[i].append(float(u[choice]))
            expected_u[i].append(float(probs @ u))
            if keep_columns:
                kept[i].append(columns[i])
        if on_turn is not None:
            on_turn(turn)
    trajectories = [
        Trajectory(
            session_id=sid, initial_prompt=h.initial_prompt, turns=h.turns, user_type=None,
            metadata={"planted_type": int(k), "true_utility": [round(x, 6) for x in cu],
                      "expected_utility": [round(x, 6) for x in eu]},
        )
        for sid, h, k, cu, eu in zip(session_ids, histories, types, chosen_u, expected_u)
    ]
    return EpisodeBatch(trajectories, utilities, kept if keep_columns else None)
