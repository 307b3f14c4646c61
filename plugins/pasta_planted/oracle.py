"""Reference selectors that know the planted world.

- ``oracle``: knows the user's planted type. For every candidate it estimates the true
  utility under that type by rendering the candidate ``images`` times (small images, seeds
  of its own, not the ones the slate will be shown with) and measuring them; then it keeps
  the best candidate of each category and the ``slate_size`` best of those (the paper's
  slate rule, with the true utility as f). It is greedy per turn: the reference an agent
  is measured against, not a planner.
- :class:`PosteriorSelector` (the bench's ``posterior`` references; not a registered
  selector): knows the planted *model* (tastes, fidelities, prior, choice
  rule) but not the type. It re-renders the columns the user was shown (from the seeds in
  the history), keeps the posterior over types given the user's earlier choices, and ranks
  candidates by their posterior-expected true utility (the oracle's rule otherwise). The
  gap between it and the oracle is what knowing the type is worth after so many turns;
  the gap below it is what a learned agent loses to not knowing the world.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.streams import child_seeds
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


class PosteriorSelector:
    """Posterior-expected true utility per category: the planted model without the type.

    The posterior over types is updated from each new turn of the history (its columns
    re-rendered from the recorded seeds, their true utilities under every type, the
    planted choice probabilities of the user's choice; a turn without seeds is not
    counted). One instance serves one episode (it remembers the turns it has counted)."""

    def __init__(self, world: PlantedWorld, images: int = 1, t2i: Any = None, joint: bool = False) -> None:
        self.world = world
        self.images = max(int(images), 1)
        self.joint = joint
        self.t2i = t2i or world.renderer
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
        prompts = [c.text for c in candidates for _ in range(self.images)]
        seeds = child_seeds(seed, len(prompts))
        u = self.world.attribute_utilities(history.initial_prompt, measured_attributes(self.t2i.render(prompts, seeds)))
        posterior = self.posterior(history)
        u = u.reshape(len(u), len(candidates), self.images).mean(axis=2)  # (K, candidates)
        if self.joint:
            return self.joint_slate(posterior, u, candidates, slate_size)
        return best_per_category(posterior @ u, candidates, slate_size)

    def joint_slate(self, posterior: np.ndarray, u: np.ndarray, candidates: Sequence[Candidate],
                    slate_size: int) -> list[Candidate]:
        """The slate (one per category) of highest posterior-expected utility of the
        column the user will choose: it may hedge between types."""
        import itertools

        groups: dict[str, list[int]] = {}
        for i, c in enumerate(candidates):
            groups.setdefault(c.category, []).append(i)
        best, best_value = None, -np.inf
        for categories in itertools.combinations(groups, min(slate_size, len(groups))):
            slates = np.array(list(itertools.product(*(groups[c] for c in categories))))  # (S, L)
            values = u[:, slates]  # (K, S, L)
            probs = self.world.choice_probabilities(values)
            expected = posterior @ (probs * values).sum(axis=2)  # (S,)
            j = int(np.argmax(expected))
            if expected[j] > best_value:
                best, best_value = slates[j], expected[j]
        return [candidates[i] for i in best]


def create_oracle(world: str | None = None, user_type: int | str = 0, images: int | str = 1, *,
                  plugins: Any = None) -> OracleSelector:
    """Factory of the ``oracle`` selector: ``world=FILE user_type=K [images=N]``;
    ``plugins`` builds the world's aggregator."""
    return OracleSelector(PlantedWorld.from_file(world or None, plugins), int(user_type), int(images))
