"""The episode engine: the one turn step every caller drives.

A turn is propose (candidates and the slate) -> render (L columns of M images) -> answer
-> record (the :class:`~pasta_core.types.Turn`). Only :func:`generation_request` builds a
``GenerationRequest`` and only :func:`turn_reward` makes a turn's reward.
:class:`~pasta_core.session.Session` drives one episode turn by turn with these (a person
answers between render and record); :func:`run_episodes` drives many in lock-step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from pasta_core.config import EpisodeConfig, word_limit
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import (
    Answer,
    BatchSelector,
    CandidateGenerator,
    FallbackCandidates,
    GenerationRequest,
    HistoryImages,
    Rater,
    Selector,
    T2IModel,
    User,
)
from pasta_core.shown import ShownImages, shown_images_for
from pasta_core.streams import EpisodeStreams
from pasta_core.types import Candidate, Column, History, Trajectory, Turn, check_slate, word_count


@attrs.frozen
class Agent:
    """The three components that make a turn: generator, selector and T2I model."""

    generator: CandidateGenerator
    selector: Selector
    t2i: T2IModel


def _candidates(value: Iterable[Candidate]) -> tuple[Candidate, ...]:
    return tuple(value)


@attrs.frozen
class Proposal:
    """A turn's candidates and the slate selected from them; ``fallback`` names the
    generator that wrote the candidates in place of the agent's own, if one did."""

    candidates: tuple[Candidate, ...] = attrs.field(converter=_candidates)
    slate: tuple[Candidate, ...] = attrs.field(converter=_candidates)
    fallback: str | None = None


@attrs.define
class Episode:
    """One episode in flight: who plays, who answers, and the history so far."""

    agent: Agent
    user: User
    history: History
    streams: EpisodeStreams
    session_id: str
    user_type: int | None = None
    #: The images shown so far that the generator reads (None when it reads none).
    shown: ShownImages | None = None


def generation_request(history: History, config: EpisodeConfig, seed: int,
                       images: HistoryImages | None = None) -> GenerationRequest:
    """What the generator is asked for the turn after ``history`` (``images``: the
    images shown in its turns, for generators that read them)."""
    turn = len(history.turns) + 1
    return GenerationRequest(
        history=history,
        turn=turn,
        categories=config.categories,
        per_category=config.candidates_per_category,
        word_limit=word_limit(word_count(history.initial_prompt), turn, config.turns, config.word_cap),
        seed=seed,
        images=images,
    )


def candidates_for(
    generator: CandidateGenerator, history: History, config: EpisodeConfig, streams: EpisodeStreams,
    images: HistoryImages | None = None,
) -> list[Candidate]:
    """The generator's checked candidates for the turn after ``history`` (a
    :class:`~pasta_core.protocols.FallbackCandidates` when a fallback wrote them)."""
    request = generation_request(history, config, streams.generator(len(history.turns) + 1), images)
    answer = generator.generate(request)
    fallback = getattr(answer, "fallback", None)
    candidates = list(answer)
    unknown = {c.category for c in candidates} - set(request.categories)
    if unknown:
        raise InvalidValueError(f"generator returned unknown categories {sorted(unknown)}")
    too_long = [c.text for c in candidates if word_count(c.text) > request.word_limit]
    if too_long:
        raise InvalidValueError(
            f"generator returned candidates over the {request.word_limit}-word limit: {too_long[:2]}"
        )
    return candidates if fallback is None else FallbackCandidates(candidates, fallback)


def propose(agent: Agent, history: History, config: EpisodeConfig, streams: EpisodeStreams,
            images: HistoryImages | None = None) -> Proposal:
    """Candidates and the selected slate for the turn after ``history``."""
    (proposal,) = propose_many([agent], [history], config, [streams], [images])
    return proposal


def propose_many(
    agents: Sequence[Agent],
    histories: Sequence[History],
    config: EpisodeConfig,
    streams: Sequence[EpisodeStreams],
    images: Sequence[HistoryImages | None] | None = None,
) -> list[Proposal]:
    """One proposal per episode (``images``: each episode's shown images, for generators
    that read them). Episodes that share a :class:`BatchSelector` are selected in one
    ``select_many`` call; other selectors are called once per episode."""
    shown = list(images) if images is not None else [None] * len(agents)
    offered = [candidates_for(a.generator, h, config, s, i)
               for a, h, s, i in zip(agents, histories, streams, shown)]
    seeds = [s.selector(len(h.turns) + 1) for h, s in zip(histories, streams)]
    slates: list[list[Candidate] | None] = [None] * len(agents)
    groups: dict[int, list[int]] = {}
    for i, agent in enumerate(agents):
        if isinstance(agent.selector, BatchSelector):
            groups.setdefault(id(agent.selector), []).append(i)
    for members in groups.values():
        selector: Any = agents[members[0]].selector
        picked = selector.select_many([histories[i] for i in members], [offered[i] for i in members],
                                      config.slate_size, [seeds[i] for i in members])
        for i, slate in zip(members, picked):
            slates[i] = list(slate)
    result = []
    for i, agent in enumerate(agents):
        slate = slates[i]
        if slate is None:
            slate = list(agent.selector.select(histories[i], offered[i], config.slate_size, seeds[i]))
        check_slate(slate, offered[i])
        result.append(Proposal(offered[i], slate, getattr(offered[i], "fallback", None)))
    return result


def render_slates(
    t2i: T2IModel,
    slates: Sequence[Sequence[Candidate]],
    seeds: Sequence[Sequence[Sequence[int]]],
    batch_size: int = 256,
) -> list[list[Column]]:
    """Render several slates (of one or many episodes) in as few T2I calls as allowed;
    ``seeds``: each slate's seeds per column and image (:meth:`EpisodeStreams.images`)."""
    pairs = [(c.text, seed) for slate, slate_seeds in zip(slates, seeds)
             for c, column_seeds in zip(slate, slate_seeds) for seed in column_seeds]
    images: list[Any] = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        images.extend(t2i.render([prompt for prompt, _ in chunk], [seed for _, seed in chunk]))
    if len(images) != len(pairs):
        raise InvalidValueError(f"T2I model returned {len(images)} images for {len(pairs)} prompts")
    rendered = iter(images)
    return [[Column(candidate, [next(rendered) for _ in cs], cs) for candidate, cs in zip(slate, slate_seeds)]
            for slate, slate_seeds in zip(slates, seeds)]


def answer_turn(
    user: User, history: History, columns: Sequence[Column], streams: EpisodeStreams
) -> Answer:
    """The user's answer to the slate on show: the choice from the ``choice`` stream and,
    for a :class:`Rater`, the ratings from the independent ``rating`` stream."""
    turn = len(history.turns) + 1
    answer = user.answer(history, columns, streams.choice(turn))
    if not isinstance(answer.choice, int) or isinstance(answer.choice, bool) or not 0 <= answer.choice < len(columns):
        raise InvalidValueError(f"the user chose column {answer.choice!r} of {len(columns)}")
    if isinstance(user, Rater):
        answer = user.rate(history, columns, answer, streams.rating(turn))
    return answer


def turn_reward(answer: Answer, turn: int, config: EpisodeConfig) -> float | None:
    """The reward of a turn: the chosen column's utility (every turn if dense, else the last;
    0 on the other turns), or None when the user gave no utilities (people)."""
    if answer.utilities is None:
        return None
    if config.reward_mode == "dense" or turn == config.turns:
        return float(answer.utilities[answer.choice])
    return 0.0


def record_turn(
    history: History,
    candidates: Sequence[Candidate],
    columns: Sequence[Column],
    answer: Answer,
    config: EpisodeConfig,
    image_refs: Sequence[Sequence[str]] = (),
    reward: bool = True,
    fallback: str | None = None,
) -> Turn:
    """The record of the answered turn after ``history``; ``reward=False`` leaves the reward
    empty (a hypothetical turn, or data collected from people); ``fallback`` names the
    generator that wrote the candidates in place of the agent's own, if one did."""
    turn = len(history.turns) + 1
    return Turn(
        candidates=candidates,
        slate=[c.candidate for c in columns],
        choice=answer.choice,
        critique=answer.critique,
        reward=turn_reward(answer, turn, config) if reward else None,
        seeds=[c.seeds for c in columns],
        image_refs=image_refs,
        satisfaction=answer.satisfaction,
        comparison=answer.comparison,
        fallback=fallback,
    )


def step(episodes: Sequence[Episode], config: EpisodeConfig, batch_size: int = 256,
         rewards: bool = True) -> list[list[Column]]:
    """Play one turn of every episode in lock-step; returns each episode's columns.

    Episodes that share a T2I model are rendered together (one call per ``batch_size``
    images)."""
    turn_of = [len(e.history.turns) + 1 for e in episodes]
    proposals = propose_many([e.agent for e in episodes], [e.history for e in episodes], config,
                             [e.streams for e in episodes], [e.shown for e in episodes])
    seeds = [e.streams.images(t, len(p.slate), config.images_per_prompt)
             for e, p, t in zip(episodes, proposals, turn_of)]
    columns: list[list[Column]] = [[] for _ in episodes]
    by_t2i: dict[int, list[int]] = {}
    for i, episode in enumerate(episodes):
        by_t2i.setdefault(id(episode.agent.t2i), []).append(i)
    for members in by_t2i.values():
        rendered = render_slates(episodes[members[0]].agent.t2i, [proposals[i].slate for i in members],
                                 [seeds[i] for i in members], batch_size)
        for i, cols in zip(members, rendered):
            columns[i] = cols
    for episode, proposal, cols, turn in zip(episodes, proposals, columns, turn_of):
        answer = answer_turn(episode.user, episode.history, cols, episode.streams)
        record = record_turn(episode.history, proposal.candidates, cols, answer, config, reward=rewards,
                             fallback=proposal.fallback)
        episode.history = episode.history.append(record)
        if episode.shown is not None:
            episode.shown.show(turn, cols)
            episode.shown.answered(turn, answer.choice)
    return columns


def run_episodes(
    agent: Agent | Sequence[Agent],
    users: Sequence[User],
    prompts: Sequence[str],
    config: EpisodeConfig = EpisodeConfig(),
    seeds: Sequence[int] | None = None,
    session_ids: Sequence[str] | None = None,
    user_types: Sequence[int | None] | None = None,
    batch_size: int = 256,
    on_turn: Callable[[int, list[list[Column]]], None] | None = None,
    rewards: bool = True,
) -> list[Trajectory]:
    """Run one episode per (user, prompt) in lock-step, batching T2I calls per turn.

    ``agent`` is shared, or one per episode (the planted oracle knows each user's type).
    ``seeds`` are the episodes' seeds (default 0..n-1), the roots of their streams.
    ``on_turn(turn, columns)`` is called after every turn with each episode's columns
    (progress displays, evaluations that look at the images)."""
    n = len(prompts)
    agents = [agent] * n if isinstance(agent, Agent) else list(agent)
    if len(users) != n or len(agents) != n:
        raise InvalidValueError(f"{len(users)} users and {len(agents)} agents for {n} prompts")
    seeds = list(seeds) if seeds is not None else list(range(n))
    ids = list(session_ids) if session_ids is not None else [f"episode-{i:06d}" for i in range(n)]
    types = list(user_types) if user_types is not None else [getattr(u, "user_type", None) for u in users]
    episodes = [Episode(a, u, History(p), EpisodeStreams(s), sid, k, shown_images_for(a.generator))
                for a, u, p, s, sid, k in zip(agents, users, prompts, seeds, ids, types)]
    for turn in range(1, config.turns + 1):
        columns = step(episodes, config, batch_size, rewards)
        if on_turn is not None:
            on_turn(turn, columns)
    return [Trajectory(session_id=e.session_id, initial_prompt=e.history.initial_prompt, turns=e.history.turns,
                       user_type=e.user_type) for e in episodes]
