"""Trajectories -> IQL transitions, stored as index arrays over unique histories and
candidates so that every text is prepared (embedded, tokenized) once.

A *turn* transition is (h, slate, r, h'); each prompt of its slate is one *pair*
(h, p) with the same TD target r + gamma V(h'). A batch is drawn as whole turns (every
prompt of a taken slate) until it holds ``batch_size`` pairs, so V(h') is computed once
per turn, not once per prompt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import attrs
import numpy as np

from pasta_core.errors import InvalidValueError
from pasta_core.types import Candidate, History, Trajectory


@attrs.frozen
class Transitions:
    """Turn and pair transitions over unique histories and candidates."""

    histories: list[History]
    candidates: list[Candidate]
    turn_history: np.ndarray  # (T,) index of h
    turn_next: np.ndarray  # (T,) index of h', -1 after the final turn
    turn_reward: np.ndarray  # (T,) float
    pair_start: np.ndarray  # (T,) first pair of each turn
    pair_count: np.ndarray  # (T,) slate size of each turn
    pair_candidate: np.ndarray  # (P,) index of p

    @property
    def num_turns(self) -> int:
        return len(self.turn_history)

    @property
    def num_pairs(self) -> int:
        return len(self.pair_candidate)

    def fingerprint(self) -> str:
        """A short hash of the data (a resumed run must see the same transitions)."""
        digest = hashlib.sha256()
        for array in (self.turn_history, self.turn_next, self.turn_reward, self.pair_candidate):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(str((len(self.histories), len(self.candidates))).encode())
        return digest.hexdigest()[:16]


@attrs.frozen
class Batch:
    """One training batch: pair-level arrays and the turns they come from."""

    history: np.ndarray  # (B,) index of h per pair
    candidate: np.ndarray  # (B,) index of p per pair
    reward: np.ndarray  # (B,)
    next_history: np.ndarray  # (B,) index of h' per pair, -1 if terminal


def build_transitions(trajectories: Iterable[Trajectory], rewards: Iterable[Sequence[float]]) -> Transitions:
    """Transitions of ``trajectories`` with one reward per turn from ``rewards``."""
    history_ids: dict[History, int] = {}
    candidate_ids: dict[Candidate, int] = {}
    turn_h: list[int] = []
    turn_next: list[int] = []
    turn_r: list[float] = []
    counts: list[int] = []
    pair_c: list[int] = []

    def hid(history: History) -> int:
        return history_ids.setdefault(history, len(history_ids))

    for trajectory, reward in zip(trajectories, rewards, strict=True):
        if len(reward) != len(trajectory.turns):
            raise InvalidValueError(f"session {trajectory.session_id}: one reward per turn needed")
        history = History(trajectory.initial_prompt)
        for t, turn in enumerate(trajectory.turns):
            after = history.append(turn)
            turn_h.append(hid(history))
            turn_next.append(hid(after) if t + 1 < len(trajectory.turns) else -1)
            turn_r.append(float(reward[t]))
            counts.append(len(turn.slate))
            pair_c.extend(candidate_ids.setdefault(c, len(candidate_ids)) for c in turn.slate)
            history = after
    if not turn_h:
        raise InvalidValueError("no turns to train on: the data holds no trajectories with turns")
    count = np.asarray(counts, dtype=np.int64)
    return Transitions(
        histories=list(history_ids),
        candidates=list(candidate_ids),
        turn_history=np.asarray(turn_h, dtype=np.int64),
        turn_next=np.asarray(turn_next, dtype=np.int64),
        turn_reward=np.asarray(turn_r, dtype=np.float32),
        pair_start=np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64),
        pair_count=count,
        pair_candidate=np.asarray(pair_c, dtype=np.int64),
    )


def sample_batch(data: Transitions, batch_size: int, seed: int, step: int) -> Batch:
    """The batch of ``step``: whole turns drawn uniformly (with replacement) until
    ``batch_size`` pairs; depends only on (seed, step), so a resumed run draws the same."""
    rng = np.random.default_rng([seed, step])
    mean_slate = max(1.0, float(data.pair_count.mean()))
    turns = rng.integers(data.num_turns, size=int(np.ceil(batch_size / mean_slate)) * 2 + 4)
    counts = data.pair_count[turns]
    enough = int(np.searchsorted(np.cumsum(counts), batch_size)) + 1
    turns, counts = turns[:enough], counts[:enough]
    turn_of_pair = np.repeat(turns, counts)
    offsets = np.arange(len(turn_of_pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    pairs = (data.pair_start[turn_of_pair] + offsets)[:batch_size]
    turn_of_pair = turn_of_pair[:batch_size]
    return Batch(
        history=data.turn_history[turn_of_pair],
        candidate=data.pair_candidate[pairs],
        reward=data.turn_reward[turn_of_pair],
        next_history=data.turn_next[turn_of_pair],
    )
