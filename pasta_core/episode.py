"""The episode loop: propose candidates, select a slate, render it, let the user choose.

:func:`propose` and :func:`render_slates` are the two halves of a turn. :class:`Session`
(pasta_core.session) drives one persisted episode turn by turn; :func:`run_episodes` drives
many simulated episodes in lock-step so that one T2I call renders the slates of all of
them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from pasta_core.config import EpisodeConfig, word_limit
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import CandidateGenerator, GenerationRequest, Selector, T2IModel
from pasta_core.types import Candidate, Column, History, Trajectory, Turn, check_slate, word_count
from pasta_core.users import Answer, User


@attrs.frozen
class Agent:
    """The three components that make a turn: generator, selector and T2I model."""

    generator: CandidateGenerator
    selector: Selector
    t2i: T2IModel


def derive_seed(*parts: int) -> int:
    """A 31-bit seed derived from integers (session seed, turn, column, image, ...)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0] >> 1)


def image_seeds(seed: int, turn: int, slate_size: int, images: int) -> list[list[int]]:
    """One seed per image of a turn, so every image can be re-rendered on its own."""
    return [[derive_seed(seed, turn, c, m) for m in range(images)] for c in range(slate_size)]


def _check_candidates(candidates: Sequence[Candidate], request: GenerationRequest) -> None:
    unknown = {c.category for c in candidates} - set(request.categories)
    if unknown:
        raise InvalidValueError(f"generator returned unknown categories {sorted(unknown)}")
    too_long = [c.text for c in candidates if word_count(c.text) > request.word_limit]
    if too_long:
        raise InvalidValueError(
            f"generator returned candidates over the {request.word_limit}-word limit: {too_long[:2]}"
        )


def propose(
    agent: Agent, history: History, config: EpisodeConfig, seed: int
) -> tuple[list[Candidate], list[Candidate]]:
    """Candidates and the selected slate for the next turn of ``history``."""
    turn = len(history.turns) + 1
    request = GenerationRequest(
        history=history,
        turn=turn,
        categories=config.categories,
        per_category=config.candidates_per_category,
        word_limit=word_limit(word_count(history.initial_prompt), turn, config.turns, config.word_cap),
        seed=derive_seed(seed, turn, 1),
    )
    candidates = list(agent.generator.generate(request))
    _check_candidates(candidates, request)
    slate = list(agent.selector.select(history, candidates, config.slate_size, derive_seed(seed, turn, 2)))
    check_slate(slate, candidates)
    return candidates, slate


def render_slates(
    t2i: T2IModel,
    slates: Sequence[Sequence[Candidate]],
    seeds: Sequence[Sequence[Sequence[int]]],
    batch_size: int = 256,
) -> list[list[Column]]:
    """Render several slates (of one or many episodes) in as few T2I calls as allowed."""
    flat_prompts: list[str] = []
    flat_seeds: list[int] = []
    for slate, slate_seeds in zip(slates, seeds):
        for candidate, column_seeds in zip(slate, slate_seeds):
            flat_prompts.extend([candidate.text] * len(column_seeds))
            flat_seeds.extend(column_seeds)
    images: list[Any] = []
    for start in range(0, len(flat_prompts), batch_size):
        chunk = slice(start, start + batch_size)
        images.extend(t2i.render(flat_prompts[chunk], flat_seeds[chunk]))
    if len(images) != len(flat_prompts):
        raise InvalidValueError(f"T2I model returned {len(images)} images for {len(flat_prompts)} prompts")
    result: list[list[Column]] = []
    cursor = 0
    for slate, slate_seeds in zip(slates, seeds):
        columns = []
        for candidate, column_seeds in zip(slate, slate_seeds):
            columns.append(Column(candidate, images[cursor : cursor + len(column_seeds)], column_seeds))
            cursor += len(column_seeds)
        result.append(columns)
    return result


def turn_reward(answer: Answer, turn: int, config: EpisodeConfig) -> float | None:
    """The reward of a turn: the chosen column's utility (every turn if dense, else the last)."""
    if answer.utilities is None:
        return None
    if config.reward_mode == "dense" or turn == config.turns:
        return float(answer.utilities[answer.choice])
    return 0.0


def make_turn(
    candidates: Sequence[Candidate],
    columns: Sequence[Column],
    answer: Answer,
    reward: float | None,
    image_refs: Sequence[Sequence[str]] = (),
) -> Turn:
    """The record of a finished turn."""
    return Turn(
        candidates=candidates,
        slate=[c.candidate for c in columns],
        choice=answer.choice,
        critique=answer.critique,
        reward=reward,
        seeds=[c.seeds for c in columns],
        image_refs=image_refs,
    )


def run_episodes(
    agent: Agent,
    users: Sequence[User],
    prompts: Sequence[str],
    config: EpisodeConfig = EpisodeConfig(),
    seeds: Sequence[int] | None = None,
    session_ids: Sequence[str] | None = None,
    user_types: Sequence[int | None] | None = None,
    batch_size: int = 256,
    on_turn: Callable[[int], None] | None = None,
) -> list[Trajectory]:
    """Run one simulated episode per (user, prompt) in lock-step, batching T2I calls per turn.

    ``on_turn(t)`` is called after every turn (progress displays).
    """
    n = len(prompts)
    if len(users) != n:
        raise InvalidValueError(f"{len(users)} users for {n} prompts")
    seeds = list(seeds) if seeds is not None else list(range(n))
    ids = list(session_ids) if session_ids is not None else [f"episode-{i:06d}" for i in range(n)]
    histories = [History(p) for p in prompts]
    for turn in range(1, config.turns + 1):
        proposals = [propose(agent, h, config, s) for h, s in zip(histories, seeds)]
        all_seeds = [
            image_seeds(s, turn, len(slate), config.images_per_prompt)
            for s, (_, slate) in zip(seeds, proposals)
        ]
        columns = render_slates(agent.t2i, [slate for _, slate in proposals], all_seeds, batch_size)
        for i, user in enumerate(users):
            answer = user.answer(histories[i], columns[i], derive_seed(seeds[i], turn, 3))
            reward = turn_reward(answer, turn, config)
            histories[i] = histories[i].append(make_turn(proposals[i][0], columns[i], answer, reward))
        if on_turn is not None:
            on_turn(turn)
    types = list(user_types) if user_types is not None else [getattr(u, "user_type", None) for u in users]
    return [
        Trajectory(session_id=sid, initial_prompt=h.initial_prompt, turns=h.turns, user_type=k)
        for sid, h, k in zip(ids, histories, types)
    ]
