"""Supervised pairs: a history (as the distilled model reads it) -> the slate the teacher chose.

The teacher is any agent (a generator and a selector; by default the template generator
and the value selector). For every turn t of a session, the history before t is replayed
to the teacher, and its slate is the target. Sessions the teacher itself played (simulated
with :func:`pasta_simulate.simulate.simulate` and the teacher's selector) give the
histories the distilled agent will meet; recorded human sessions give real ones.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence

import attrs

from pasta_core.config import EpisodeConfig
from pasta_core.engine import Agent, propose_many
from pasta_core.streams import EpisodeStreams, run_seed
from pasta_core.types import Candidate, History, Trajectory


@attrs.frozen
class Pair:
    """One supervised pair: the request of a turn and the teacher's slate for it."""

    source: str  # "simulated" or "human" (or any label the caller gives)
    session_id: str
    turn: int
    history: History
    categories: tuple[str, ...]
    slate_size: int
    word_limit: int
    slate: tuple[Candidate, ...]


def episode_seed(session_id: str, seed: int) -> int:
    """A session's root seed for replaying it to the teacher: a pure function of its id."""
    return run_seed(seed, "replay", zlib.crc32(session_id.encode("utf-8")))


def _histories(trajectories: Iterable[Trajectory]) -> Iterator[tuple[Trajectory, History]]:
    for trajectory in trajectories:
        history = History(trajectory.initial_prompt)
        for turn in trajectory.turns:
            yield trajectory, history
            history = history.append(turn)


def teacher_pairs(teacher: Agent, trajectories: Iterable[Trajectory], config: EpisodeConfig, source: str,
                  seed: int = 0, batch: int = 256) -> Iterator[Pair]:
    """The teacher's slate for every turn's history of ``trajectories`` (batched: a value
    selector scores ``batch`` histories' candidates in one call)."""
    chunk: list[tuple[Trajectory, History]] = []
    for item in _histories(trajectories):
        chunk.append(item)
        if len(chunk) == batch:
            yield from _label(teacher, chunk, config, source, seed)
            chunk = []
    if chunk:
        yield from _label(teacher, chunk, config, source, seed)


def _label(teacher: Agent, chunk: Sequence[tuple[Trajectory, History]], config: EpisodeConfig, source: str,
           seed: int) -> list[Pair]:
    from pasta_core.engine import generation_request

    histories = [h for _, h in chunk]
    streams = [EpisodeStreams(episode_seed(t.session_id, seed)) for t, _ in chunk]
    proposals = propose_many([teacher] * len(chunk), histories, config, streams)
    pairs = []
    for (trajectory, history), proposal, stream in zip(chunk, proposals, streams):
        turn = len(history.turns) + 1
        request = generation_request(history, config, stream.generator(turn))
        pairs.append(Pair(source, trajectory.session_id, turn, history, tuple(config.categories),
                          config.slate_size, request.word_limit, tuple(proposal.slate)))
    return pairs
