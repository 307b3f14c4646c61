"""The ``simple`` user model: K latent user types with fixed tastes over image features.

Type k scores an image by a fixed linear taste over the training-free image features
(:mod:`pasta_encoders.imagefeatures`): some types like warm, bright, busy pictures, others
cool, dark or smooth ones. Tastes are drawn from a seed, so a population is reproducible. It
needs no training and no downloads, and serves as the embedded simulated user.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core import hookimpl
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import Aggregator
from pasta_encoders.imagefeatures import FEATURE_DIM, image_features
from pasta_users import AggregatingUserModel


class SimpleUserModel(AggregatingUserModel):
    """Latent types with linear tastes over fixed image features."""

    def __init__(self, aggregator: Aggregator, types: int = 4, seed: int = 0, choice_scale: float = 20.0) -> None:
        k = int(types)
        if not 1 <= k <= 64:
            raise InvalidValueError(f"types must be 1..64, got {k}")
        super().__init__(aggregator, choice_scale=choice_scale)
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


def create_simple_user_model(
    types: int | str = 4,
    seed: int | str = 0,
    choice_scale: float | str | None = None,
    aggregator: str = "softmax",
    *,
    plugins: Any,
    temperature: float | str | None = None,
) -> SimpleUserModel:
    """Factory of the ``simple`` user model: ``types``, ``seed``, ``choice_scale`` (choices are
    softmax(choice_scale * utility); default 20) and ``aggregator`` (a registered name).

    ``temperature`` is the old name of ``choice_scale`` (it multiplied, unlike every other
    temperature here); it is still accepted, with a warning."""
    if temperature is not None:
        if choice_scale is not None:
            raise InvalidValueError("give choice_scale only (temperature is its deprecated name)")
        warnings.warn("the simple user model's option temperature is now choice_scale (same value)",
                      FutureWarning, stacklevel=2)
        choice_scale = temperature
    scale = 20.0 if choice_scale is None else float(choice_scale)
    return SimpleUserModel(plugins.create("aggregator", aggregator), int(types), int(seed), scale)


@hookimpl
def pasta_register_user_models(register: Any) -> None:
    register("simple", create_simple_user_model, "K latent types with fixed tastes over image features (offline)")
