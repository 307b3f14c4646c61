"""Shared arithmetic for user models: utilities, choice probabilities and posteriors.

A user model only has to supply ``scores(intent, images)`` (shape K x images); this base
class turns scores into column utilities with an aggregator (built by the model's factory
from its plugin set), choice probabilities (softmax over columns of ``choice_scale *
utility``: a scale multiplies, so it is the inverse of a choice temperature) and the Bayes
posterior over types from observed choices. Plugins may override any of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.protocols import Aggregator
from pasta_core.types import Column


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


class AggregatingUserModel:
    """Base class: everything but the image scores.

    ``aggregator`` is an aggregator object (a factory builds it with
    ``plugins.create("aggregator", name)``); ``choice_scale`` multiplies the utilities in
    the choice softmax."""

    def __init__(self, aggregator: Aggregator, choice_scale: float = 10.0) -> None:
        self.aggregator = aggregator
        self.choice_scale = float(choice_scale)
        self._memo: tuple[str, tuple[Column, ...], np.ndarray] | None = None

    @property
    def num_types(self) -> int:
        raise NotImplementedError

    @property
    def prior(self) -> np.ndarray:
        raise NotImplementedError

    def scores(self, intent: str, images: Sequence[Any]) -> np.ndarray:
        raise NotImplementedError

    def utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        # A simulated user asks for utilities and then choice probabilities of the same
        # columns: remember the last answer so the images are scored once.
        memo = self._memo
        if (
            memo is not None
            and memo[0] == intent
            and len(memo[1]) == len(columns)
            and all(a is b for a, b in zip(memo[1], columns))
        ):
            return memo[2]
        result = self._utilities(intent, columns)
        self._memo = (intent, tuple(columns), result)
        return result

    def _utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        images = [image for column in columns for image in column.images]
        return self.aggregate(self.scores(intent, images), [len(column.images) for column in columns])

    def aggregate(self, scores: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
        """Column utilities (types x columns) from the scores of the columns' images
        (types x images, column after column; ``sizes``: how many images each has)."""
        if len(set(sizes)) == 1:  # one batched call, one reshape: the common case
            return np.asarray(self.aggregator(scores.reshape(self.num_types, len(sizes), sizes[0])))
        bounds = np.cumsum([0, *sizes])
        return np.stack(
            [np.asarray(self.aggregator(scores[:, a:b])) for a, b in zip(bounds[:-1], bounds[1:])],
            axis=1,
        )

    def choice_probabilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        return softmax(self.choice_scale * self.utilities(intent, columns))

    def choices_from_scores(self, scores: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
        """What :meth:`choice_probabilities` gives for columns whose images scored
        ``scores`` (as :meth:`aggregate` takes them), without scoring the images again."""
        return softmax(self.choice_scale * self.aggregate(scores, sizes))

    def posterior(
        self, intent: str, observed: Sequence[tuple[Sequence[Column], int]]
    ) -> np.ndarray:
        log_post = np.log(np.maximum(self.prior, 1e-300))
        for columns, choice in observed:
            probs = self.choice_probabilities(intent, columns)
            log_post = log_post + np.log(np.maximum(probs[:, choice], 1e-300))
        return softmax(log_post)
