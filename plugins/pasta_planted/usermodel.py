"""The ``planted`` user model: the planted world behind the core ``UserModel`` protocol,
so that it can play the simulated user (``pasta simulate --user-model planted``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.types import Column
from pasta_planted.world import PlantedWorld
from pasta_users import AggregatingUserModel


class PlantedUserModel(AggregatingUserModel):
    """Scores are the planted image utilities; choices the planted softmax."""

    def __init__(self, world: PlantedWorld) -> None:
        super().__init__(world.aggregator, choice_scale=1.0 / world.temperature)
        self.world = world

    @property
    def num_types(self) -> int:
        return self.world.num_types

    @property
    def prior(self) -> np.ndarray:
        return self.world.prior

    def scores(self, intent: str, images: Sequence[Any]) -> np.ndarray:
        return self.world.image_utilities(intent, images)

    def _utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        return self.world.utilities(intent, columns)


def create_planted_user_model(world: str | None = None, *, plugins: Any, **options: Any) -> PlantedUserModel:
    """Factory of the ``planted`` user model: ``world=FILE`` (default: the example world)."""
    if options:
        from pasta_core.errors import InvalidValueError

        raise InvalidValueError(f"the planted user model takes only world=FILE, got {sorted(options)}")
    return PlantedUserModel(PlantedWorld.from_file(world or None, plugins))
