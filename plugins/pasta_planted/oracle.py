"""Reference selectors that know the planted world.

- :class:`SlateOracle` (the bench's ``oracle``, the yardstick's upper end): knows the
  user's planted type *and the episode's image seeds*, so it sees the very images every
  candidate would be shown with at every position of the slate (column ``c`` of turn
  ``t`` is rendered from the episode's ``image`` stream (t, c, m)). It evaluates each
  candidate at each position and picks, by exhaustive search over every slate of
  ``slate_size`` columns (one candidate per category, in order), the slate of highest
  expected true utility of the column the user will choose under the planted choice
  model. No selector can do better on a turn in expectation given the same history; an
  agent can only beat it over an episode by planning across turns (it is greedy per turn).
- ``oracle`` (registered selector, :class:`OracleSelector`; the bench's optional
  ``greedy-oracle`` reference): knows the type, not the seeds. For every candidate it
  estimates the true utility by rendering it ``images`` times at seeds of its own and
  keeps the best candidate of each category and the ``slate_size`` best of those (the
  paper's slate rule, with the true utility as f). An agent that picks the whole slate can
  beat it: it is not an upper bound.
- :class:`PosteriorSelector` (the bench's ``posterior`` references; not a registered
  selector): knows the planted *model* (tastes, fidelities, prior, choice
  rule) but not the type. It re-renders the columns the user was shown (from the seeds in
  the history), keeps the posterior over types given the user's earlier choices, and ranks
  candidates by their posterior-expected true utility (the oracle's rule otherwise). The
  gap between it and the oracle is what knowing the type is worth after so many turns;
  the gap below it is what a learned agent loses to not knowing the world. With
  ``joint=True`` (``posterior-slate``) it sees the very images, as :class:`SlateOracle`
  does, and picks the slate of highest posterior-expected utility of the chosen column.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from pasta_core.streams import EpisodeStreams, child_seeds
from pasta_core.types import Candidate, Column, History
from pasta_planted.features import measured_attributes
from pasta_planted.world import PlantedWorld


class OracleSelector:
    """Best expected true utility per category, for one known planted type."""

    def __init__(self, world: PlantedWorld, user_type: int, images: int = 1, t2i: Any = None) -> None:
        from pasta_core.errors import InvalidValueError

        if not 0 <= user_type < world.num_types:
            raise InvalidValueError(f"user_type {user_type} is outside 0..{world.num_types - 1}")
        self.world = world
        self.user_type = int(user_type)
        self.images = max(int(images), 1)
        self.t2i = t2i or world.renderer

    def candidate_utilities(self, intent: str, candidates: Sequence[Candidate], seed: int) -> np.ndarray:
        """Estimated true utility of each candidate under the known type."""
        prompts = [c.text for c in candidates for _ in range(self.images)]
        seeds = child_seeds(seed, len(prompts))
        attributes = measured_attributes(self.t2i.render(prompts, seeds))
        u = self.world.attribute_utilities(intent, attributes)[self.user_type]
        return u.reshape(len(candidates), self.images).mean(axis=1)

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        scores = self.candidate_utilities(history.initial_prompt, candidates, seed)
        return best_per_category(scores, candidates, slate_size)


def best_per_category(scores: Sequence[float], candidates: Sequence[Candidate], slate_size: int) -> list[Candidate]:
    """The best candidate of each category, the ``slate_size`` best of those."""
    best: dict[str, tuple[float, Candidate]] = {}
    for score, candidate in zip(scores, candidates):
        if candidate.category not in best or score > best[candidate.category][0]:
            best[candidate.category] = (float(score), candidate)
    ranked = sorted(best.values(), key=lambda item: -item[0])
    return [candidate for _, candidate in ranked[:slate_size]]


@lru_cache(maxsize=64)
def slate_indices(categories: tuple[str, ...], slate_size: int) -> np.ndarray:
    """Every slate of ``slate_size`` candidates, one per category, in display order: an
    (S, slate_size) array of candidate indices (``categories[i]`` is candidate i's)."""
    groups: dict[str, list[int]] = {}
    for i, category in enumerate(categories):
        groups.setdefault(category, []).append(i)
    size = min(slate_size, len(groups))
    blocks = [np.array(list(itertools.product(*(groups[c] for c in order))), dtype=np.int64).reshape(-1, size)
              for order in itertools.permutations(groups, size)]
    out = np.concatenate(blocks)
    out.setflags(write=False)
    return out


def slate_values(world: PlantedWorld, utilities: np.ndarray, slates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Expected true utility of the column the user chooses, for each slate, mixed over the
    types with ``weights``: ``utilities`` (K, C, L) is candidate c's column utility when
    shown at position l, ``slates`` (S, L) candidate indices; returns (S,)."""
    positions = np.arange(slates.shape[1])
    out = np.zeros(len(slates))
    for k in np.flatnonzero(np.asarray(weights) > 0):  # one type at a time: (S, L) arrays
        values = utilities[k][slates, positions]
        probs = world.choice_probabilities(values)
        out += weights[k] * (probs * values).sum(axis=-1)
    return out


def position_utilities(world: PlantedWorld, t2i: Any, intent: str, candidates: Sequence[Candidate],
                       seeds: Sequence[Sequence[int]]) -> np.ndarray:
    """True column utility of every candidate at every position: (K, C, L). ``seeds[l]``
    are the M image seeds of position l, so candidate c at position l is rendered exactly
    as the engine would show it there."""
    per_column = [len(s) for s in seeds]
    prompts = [c.text for c in candidates for n in per_column for _ in range(n)]
    flat = [int(x) for _ in candidates for column in seeds for x in column]
    image_u = world.image_utilities(intent, t2i.render(prompts, flat))
    u = world.column_utilities(image_u, per_column * len(candidates))  # (K, C * L)
    return u.reshape(len(u), len(candidates), len(seeds))


def best_slate(world: PlantedWorld, utilities: np.ndarray, candidates: Sequence[Candidate], slate_size: int,
               weights: np.ndarray) -> tuple[list[Candidate], float]:
    """Exhaustive search: the slate (one candidate per category, in order) of highest
    ``weights``-mixed expected utility of the chosen column, and that value.
    ``utilities``: (K, C, L) by position, or (K, C) when the position does not matter."""
    u = np.asarray(utilities, dtype=np.float64)
    slates = slate_indices(tuple(c.category for c in candidates), slate_size)
    if u.ndim == 2:
        u = np.repeat(u[:, :, None], slates.shape[1], axis=2)
    values = slate_values(world, u, slates, np.asarray(weights, dtype=np.float64))
    j = int(np.argmax(values))
    return [candidates[i] for i in slates[j]], float(values[j])


class SlateOracle:
    """The true oracle: the user's type and the episode's image seeds known, the slate of
    highest expected true utility of the chosen column (see the module docstring).

    One instance serves one episode (its seed ``episode_seed`` roots the image streams);
    ``images_per_prompt`` is the episode's M."""

    def __init__(self, world: PlantedWorld, user_type: int, episode_seed: int, images_per_prompt: int,
                 t2i: Any = None) -> None:
        from pasta_core.errors import InvalidValueError

        if not 0 <= user_type < world.num_types:
            raise InvalidValueError(f"user_type {user_type} is outside 0..{world.num_types - 1}")
        self.world, self.user_type = world, int(user_type)
        self.streams = EpisodeStreams(episode_seed)
        self.images_per_prompt = int(images_per_prompt)
        self.t2i = t2i or world.renderer
        self.values: list[float] = []  # expected utility of each turn's slate, as searched

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        turn = len(history.turns) + 1
        seeds = self.streams.images(turn, min(slate_size, len({c.category for c in candidates})),
                                    self.images_per_prompt)
        u = position_utilities(self.world, self.t2i, history.initial_prompt, candidates, seeds)
        weights = np.zeros(self.world.num_types)
        weights[self.user_type] = 1.0
        slate, value = best_slate(self.world, u, candidates, slate_size, weights)
        self.values.append(value)
        return slate


class PosteriorSelector:
    """Posterior-expected true utility per category: the planted model without the type.

    The posterior over types is updated from each new turn of the history (its columns
    re-rendered from the recorded seeds, their true utilities under every type, the
    planted choice probabilities of the user's choice; a turn without seeds is not
    counted). One instance serves one episode (it remembers the turns it has counted)."""

    def __init__(self, world: PlantedWorld, images: int = 1, t2i: Any = None, joint: bool = False,
                 episode_seed: int | None = None, images_per_prompt: int = 4) -> None:
        self.world = world
        self.images = max(int(images), 1)
        self.joint = joint
        self.t2i = t2i or world.renderer
        self.streams = EpisodeStreams(episode_seed) if episode_seed is not None else None
        self.images_per_prompt = int(images_per_prompt)
        self._log_posterior = np.log(world.prior)
        self._counted: tuple[Any, ...] = ()

    def posterior(self, history: History) -> np.ndarray:
        """P(type | the choices of ``history``) under the planted model."""
        turns = tuple(history.turns)
        if turns[: len(self._counted)] != self._counted:  # another episode: start over
            self._log_posterior, self._counted = np.log(self.world.prior), ()
        for turn in turns[len(self._counted):]:
            if len(turn.seeds) != len(turn.slate) or not all(turn.seeds):
                continue  # no recorded seeds: the shown images cannot be re-rendered
            columns = [Column(c, self.t2i.render([c.text] * len(s), list(s)), s) for c, s in zip(turn.slate, turn.seeds)]
            probs = self.world.choice_probabilities(self.world.utilities(history.initial_prompt, columns))
            self._log_posterior = self._log_posterior + np.log(np.maximum(probs[:, turn.choice], 1e-300))
        self._counted = turns
        post = np.exp(self._log_posterior - self._log_posterior.max())
        return post / post.sum()

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        posterior = self.posterior(history)
        if self.joint and self.streams is not None:  # the very images, candidate by position
            turn = len(history.turns) + 1
            seeds = self.streams.images(turn, min(slate_size, len({c.category for c in candidates})),
                                        self.images_per_prompt)
            u = position_utilities(self.world, self.t2i, history.initial_prompt, candidates, seeds)
            return self.joint_slate(posterior, u, candidates, slate_size)
        prompts = [c.text for c in candidates for _ in range(self.images)]
        seeds = child_seeds(seed, len(prompts))
        u = self.world.attribute_utilities(history.initial_prompt, measured_attributes(self.t2i.render(prompts, seeds)))
        u = u.reshape(len(u), len(candidates), self.images).mean(axis=2)  # (K, candidates)
        if self.joint:
            return self.joint_slate(posterior, u, candidates, slate_size)
        return best_per_category(posterior @ u, candidates, slate_size)

    def joint_slate(self, posterior: np.ndarray, u: np.ndarray, candidates: Sequence[Candidate],
                    slate_size: int) -> list[Candidate]:
        """The slate (one per category) of highest posterior-expected utility of the
        column the user will choose: it may hedge between types. ``u``: (K, C) or, by
        position, (K, C, L)."""
        return best_slate(self.world, u, candidates, slate_size, posterior)[0]


def create_oracle(world: str | None = None, user_type: int | str = 0, images: int | str = 1, *,
                  plugins: Any = None) -> OracleSelector:
    """Factory of the ``oracle`` selector: ``world=FILE user_type=K [images=N]``;
    ``plugins`` builds the world's aggregator."""
    return OracleSelector(PlantedWorld.from_file(world or None, plugins), int(user_type), int(images))
