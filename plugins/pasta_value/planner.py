"""The ``user-model-slate`` selector: the slate planned with the learned user model itself.

No value model: each candidate is rendered (``images`` pictures at seeds of its own, drawn
from the selector's seed), the user model gives every type's column utility R_k(p), the
posterior over types comes from the turns seen so far (the shown columns re-rendered from
their seeds, as in :mod:`pasta_value.slate`), and the slate (at most one candidate per
category) of highest

    q(h, S) = sum_k P(k | h) * sum_{p in S} P(p chosen | k, S) * R_k(p)

is picked, P(p chosen | k, S) being the user model's own choice model on the slate's
utilities. It is the planted bench's ``posterior-slate`` reference with learned parts in
place of the planted truth, and greedy per turn. It renders every candidate, so a turn
costs about ``images * candidates / (slate size * images per column)`` slates' rendering.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from pasta_core.errors import InvalidValueError
from pasta_core.streams import child_seeds
from pasta_core.types import Candidate, Column, History
from pasta_value.slate import TypePosterior, joint_slate


@runtime_checkable
class PlanningUserModel(Protocol):
    """A user model a planner can use: the protocol's column utilities and a choice model
    that takes utilities already computed, for many slates at once."""

    num_types: int
    prior: np.ndarray

    def utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray: ...

    def choice_probabilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray: ...

    def choice_from_utilities(self, utilities: np.ndarray) -> np.ndarray: ...


class UserModelSlateSelector:
    """Selects the slate of highest q(h, S) under the learned user model (module docstring).

    Concurrency: a session's prefetch threads call :meth:`select` at once, and the renderer
    may only be used by one thread at a time, so a call renders and scores under a lock."""

    def __init__(self, user_model: Any, t2i: Any, images: int = 4) -> None:
        if not isinstance(user_model, PlanningUserModel):
            raise InvalidValueError(f"the user-model-slate selector needs a user model with a choice model on "
                                    f"utilities (choice_from_utilities), got {type(user_model).__name__}")
        if int(images) < 1:
            raise InvalidValueError(f"images must be >= 1, got {images}")
        self.user_model, self.t2i, self.images = user_model, t2i, int(images)
        self.posterior = TypePosterior(user_model, t2i)
        self._lock = threading.Lock()

    def candidate_utilities(self, intent: str, candidates: Sequence[Candidate], seed: int) -> np.ndarray:
        """R_k of every candidate rendered ``images`` times: (K, len(candidates))."""
        seeds = child_seeds(seed, len(candidates) * self.images)
        prompts = [c.text for c in candidates for _ in range(self.images)]
        pictures = self.t2i.render(prompts, seeds)
        m = self.images
        columns = [Column(c, pictures[i * m:(i + 1) * m], tuple(seeds[i * m:(i + 1) * m]))
                   for i, c in enumerate(candidates)]
        return np.asarray(self.user_model.utilities(intent, columns), dtype=np.float64)

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        if not candidates:
            raise InvalidValueError("the user-model-slate selector got no candidates")
        with self._lock:  # the renderer (shared with the posterior) one thread at a time
            values = self.candidate_utilities(history.initial_prompt, candidates, seed)
            posterior = self.posterior(history)
        picked = joint_slate(values, posterior, [c.category for c in candidates], slate_size,
                             choice=self.user_model.choice_from_utilities)
        return [candidates[i] for i in picked]


def create_planner(user_model: str | None = None, t2i: str = "procedural", images: int | str = 4,
                   device: str = "cpu", *, plugins: Any, **t2i_options: Any) -> UserModelSlateSelector:
    """Factory: ``user_model=DIR`` (a trained user model: a checkpoint folder, a registered
    name or a Hub repo ``hf://owner/name``), ``t2i`` (the sessions' renderer; extra options
    go to it, e.g. ``size=64``), ``images`` (renders per candidate)."""
    from pasta_checkpoints.resolve import resolve_model

    if not user_model:
        raise InvalidValueError("the user-model-slate selector needs user_model=DIR (a trained user model, "
                                "e.g. a clip-em checkpoint)")
    try:
        count = int(images)
    except ValueError:
        raise InvalidValueError(f"images must be a whole number, got {images!r}") from None
    return UserModelSlateSelector(plugins.load("user-model", resolve_model(user_model, "user-model", plugins),
                                               device=device),
                                  plugins.create("t2i", t2i, **t2i_options), count)
