"""Column aggregators: how the M image scores of a column become one utility.

All three reduce the last axis, work on numpy arrays and torch tensors alike (torch stays
differentiable), stay between the minimum and the maximum, and ignore the order of images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pasta_core import hookimpl
from pasta_core.errors import InvalidValueError


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


class MaxAggregator:
    """The best image decides (raters were told to judge a column by its best image)."""

    def __call__(self, scores: Any) -> Any:
        return scores.amax(dim=-1) if _is_torch(scores) else np.max(scores, axis=-1)


class MeanAggregator:
    """The average image score."""

    def __call__(self, scores: Any) -> Any:
        return scores.mean(dim=-1) if _is_torch(scores) else np.mean(scores, axis=-1)


class SoftmaxAggregator:
    """The paper's softmax sampler: sum_i softmax(s / beta)_i * s_i, a smooth maximum.

    ``beta`` -> 0 gives the max, ``beta`` -> infinity the mean.
    """

    def __init__(self, beta: float | str = 0.1) -> None:
        self.beta = float(beta)
        if not self.beta > 0:
            raise InvalidValueError(f"softmax aggregator needs beta > 0, got {self.beta}")

    def __call__(self, scores: Any) -> Any:
        if _is_torch(scores):
            weights = (scores / self.beta).softmax(dim=-1)
            return (weights * scores).sum(dim=-1)
        scores = np.asarray(scores, dtype=np.float64)
        z = scores / self.beta
        z = z - z.max(axis=-1, keepdims=True)
        weights = np.exp(z)
        weights /= weights.sum(axis=-1, keepdims=True)
        return (weights * scores).sum(axis=-1)


@hookimpl
def pasta_register_aggregators(register: Any) -> None:
    register("softmax", SoftmaxAggregator, "softmax sampler (smooth max, the paper's default)")
    register("max", MaxAggregator, "best image of the column")
    register("mean", MeanAggregator, "average image score")
