"""The ``simple`` user model: K latent user types with fixed tastes over image features.

Type k scores an image by a fixed linear taste over the training-free image features
(:mod:`pasta_core.imagefeatures`): some types like warm, bright, busy pictures, others cool,
dark or smooth ones. Tastes are drawn from a seed, so a population is reproducible. It
needs no training and no downloads, and serves as the embedded simulated user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core import hookimpl
from pasta_core.errors import InvalidValueError
from pasta_core.imagefeatures import FEATURE_DIM, image_features
from pasta_core.usermodel import AggregatingUserModel


class SimpleUserModel(AggregatingUserModel):
    """Latent types with linear tastes over fixed image features."""

    def __init__(
        self,
        types: int | str = 4,
        seed: int | str = 0,
        temperature: float | str = 20.0,
        aggregator: str = "softmax",
    ) -> None:
        k = int(types)
        if not 1 <= k <= 64:
            raise InvalidValueError(f"types must be 1..64, got {k}")
        super().__init__(aggregator=aggregator, temperature=float(temperature))
        rng = np.random.default_rng(int(seed))
        tastes = rng.normal(size=(k, FEATURE_DIM))
        self.tastes = tastes / np.linalg.norm(tastes, axis=1, keepdims=True)
        self._prior = np.full(k, 1.0 / k)

    @property
    def num_types(self) -> int:
        return len(self.tastes)

    @property
    def prior(self) -> np.ndarray:
        return self._prior

    def scores(self, intent: str, images: Sequence[Any]) -> np.ndarray:
        features = image_features(images)
        centred = features - 0.5 * features.mean(axis=1, keepdims=True)
        return self.tastes @ centred.T


@hookimpl
def pasta_register_user_models(register: Any) -> None:
    register("simple", SimpleUserModel, "K latent types with fixed tastes over image features (offline)")
