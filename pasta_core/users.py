"""Who answers each turn: a simulated user (a user model with a sampled type) or a person."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs
import numpy as np

from pasta_core.protocols import UserModel
from pasta_core.types import Column, History


@attrs.frozen
class Answer:
    """A user's answer to one turn: the chosen column, an optional critique and, for
    simulated users, the utility of every column under the user's type."""

    choice: int
    critique: str | None = None
    utilities: tuple[float, ...] | None = None


class User(Protocol):
    """Anything that answers a turn (a simulated user, a console prompt, a web page)."""

    def answer(self, history: History, columns: Sequence[Column], seed: int) -> Answer:
        """Pick one of ``columns`` (0-based) after seeing ``history``."""
        ...


class SimulatedUser:
    """A user model playing one latent user type, choosing columns by its choice model."""

    def __init__(self, user_model: UserModel, user_type: int) -> None:
        if not 0 <= user_type < user_model.num_types:
            from pasta_core.errors import InvalidValueError

            raise InvalidValueError(
                f"user type {user_type} is out of range for {user_model.num_types} types"
            )
        self.user_model = user_model
        self.user_type = user_type

    @classmethod
    def sample(cls, user_model: UserModel, seed: int) -> SimulatedUser:
        """A user whose type is drawn from the model's prior."""
        rng = np.random.default_rng(seed)
        return cls(user_model, int(rng.choice(user_model.num_types, p=user_model.prior)))

    def answer(self, history: History, columns: Sequence[Column], seed: int) -> Answer:
        utilities = self.user_model.utilities(history.initial_prompt, columns)[self.user_type]
        probs = self.user_model.choice_probabilities(history.initial_prompt, columns)[self.user_type]
        choice = int(np.random.default_rng(seed).choice(len(columns), p=probs / probs.sum()))
        return Answer(choice, None, tuple(float(u) for u in utilities))
