"""What user models share, and the simulated person who plays one: a library of the
user-model plugins (``clip-em``, ``planted``, ``simple-user``), the web app's belief view,
``pasta run`` and the simulator; it registers nothing. The protocols (``UserModel``,
``User``, ``Answer``) are in :mod:`pasta_core.protocols`.

A user model only has to supply ``scores(intent, images)`` (shape K x images);
:class:`AggregatingUserModel` turns scores into column utilities with an aggregator (built
by the model's factory from its plugin set), choice probabilities (softmax over columns
of ``choice_scale * utility``: a scale multiplies, so it is the inverse of a choice
temperature) and the Bayes posterior over types from observed choices. Plugins may
override any of it. :class:`SimulatedUser` answers turns as one latent type of a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.errors import InvalidValueError
from pasta_core.protocols import Aggregator, Answer, UserModel
from pasta_core.types import Column, History

__all__ = ["AggregatingUserModel", "SimulatedUser", "softmax"]


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


class SimulatedUser:
    """A user model playing one latent user type, choosing columns by its choice model."""

    def __init__(self, user_model: UserModel, user_type: int) -> None:
        if isinstance(user_type, bool) or not isinstance(user_type, int | np.integer):
            raise InvalidValueError(f"user type must be an integer, got {user_type!r}")
        if not 0 <= user_type < user_model.num_types:
            raise InvalidValueError(
                f"user type {user_type} is out of range for {user_model.num_types} types"
            )
        self.user_model = user_model
        self.user_type = int(user_type)

    @classmethod
    def sample(cls, user_model: UserModel, seed: int) -> SimulatedUser:
        """A user whose type is drawn from the model's prior with ``seed`` (a ``user-type``
        stream of :mod:`pasta_core.streams`)."""
        rng = np.random.default_rng(seed)
        return cls(user_model, int(rng.choice(user_model.num_types, p=user_model.prior)))

    def answer(self, history: History, columns: Sequence[Column], seed: int) -> Answer:
        utilities = self.user_model.utilities(history.initial_prompt, columns)[self.user_type]
        probs = self.user_model.choice_probabilities(history.initial_prompt, columns)[self.user_type]
        choice = int(np.random.default_rng(seed).choice(len(columns), p=probs / probs.sum()))
        return Answer(choice, None, tuple(float(u) for u in utilities))
