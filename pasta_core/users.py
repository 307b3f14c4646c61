"""Simulated users: a user model playing one latent user type.

The protocols of who answers a turn (``User``, ``Rater``) and the ``Answer`` they give are
in :mod:`pasta_core.protocols`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pasta_core.errors import InvalidValueError
from pasta_core.protocols import Answer, User, UserModel
from pasta_core.types import Column, History

__all__ = ["Answer", "SimulatedUser", "User"]


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
