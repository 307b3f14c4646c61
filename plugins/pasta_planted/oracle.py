"""The ``oracle`` selector: it knows the user's planted type.

For every candidate it estimates the true utility under that type by rendering the
candidate ``images`` times (small images, seeds of its own, not the ones the slate will
be shown with) and measuring them; then it keeps the best candidate of each category and
the ``slate_size`` best of those (the paper's slate rule, with the true utility as f).
It is greedy per turn: the reference an agent is measured against, not a planner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.episode import derive_seed
from pasta_core.types import Candidate, History
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
        seeds = [derive_seed(seed, i) for i in range(len(prompts))]
        attributes = measured_attributes(self.t2i.render(prompts, seeds))
        u = self.world.attribute_utilities(intent, attributes)[self.user_type]
        return u.reshape(len(candidates), self.images).mean(axis=1)

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        scores = self.candidate_utilities(history.initial_prompt, candidates, seed)
        best: dict[str, tuple[float, Candidate]] = {}
        for score, candidate in zip(scores, candidates):
            if candidate.category not in best or score > best[candidate.category][0]:
                best[candidate.category] = (float(score), candidate)
        ranked = sorted(best.values(), key=lambda item: -item[0])
        return [candidate for _, candidate in ranked[:slate_size]]


def create_oracle(world: str | None = None, user_type: int | str = 0, images: int | str = 1) -> OracleSelector:
    """Factory of the ``oracle`` selector: ``world=FILE user_type=K [images=N]``."""
    return OracleSelector(PlantedWorld.from_file(world or None), int(user_type), int(images))
