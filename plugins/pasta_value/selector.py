"""The ``value`` selector: the slate of highest f(h, p), at most one per category.

q(h, P) = mean over p in P of f(h, p), so the best slate holds the best candidate of each
of the L best categories: sort the L_C scores once (O(L_C log L_C)) and walk down,
keeping the first candidate of each new category. With ``temperature`` > 0 the scores
are perturbed by Gumbel noise first (f / T + Gumbel): a slate sampled by value (the
paper's sampling policy), seeded, and the greedy slate as T -> 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.errors import InvalidValueError
from pasta_core.types import Candidate, History


def top_slate(scores: np.ndarray, categories: Sequence[str], slate_size: int) -> list[int]:
    """Indices of the best candidate of each category, best first, at most ``slate_size``."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    seen: set[str] = set()
    picked: list[int] = []
    for index in order:
        category = categories[index]
        if category not in seen:
            seen.add(category)
            picked.append(int(index))
            if len(picked) == slate_size:
                break
    return picked


class ValueSelector:
    """Selects slates by a trained value model (``pasta value train``)."""

    def __init__(self, value_model: Any, temperature: float = 0.0) -> None:
        if temperature < 0:
            raise InvalidValueError(f"temperature must be >= 0, got {temperature}")
        self.value_model = value_model
        self.temperature = float(temperature)

    def scores(self, history: History, candidates: Sequence[Candidate]) -> np.ndarray:
        """f(h, p) of every candidate, in one batched call."""
        return np.asarray(self.value_model.q_values([history] * len(candidates), list(candidates)), dtype=np.float64)

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        if not candidates:
            raise InvalidValueError("the value selector got no candidates")
        scores = self.scores(history, candidates)
        if self.temperature > 0:
            gumbel = np.random.default_rng(seed).gumbel(size=len(scores))
            scores = scores / self.temperature + gumbel
        picked = top_slate(scores, [c.category for c in candidates], slate_size)
        return [candidates[i] for i in picked]


def create_value_selector(model: str | None = None, temperature: float | str = 0.0, device: str = "cpu",
                          **options: Any) -> ValueSelector:
    """Factory: ``model=DIR`` (a value-model checkpoint folder), ``temperature`` (0: greedy)."""
    from pasta_core.value import load_value_model

    if not model:
        raise InvalidValueError(
            "the value selector needs model=DIR, a checkpoint from `pasta value train` "
            "(pasta run --selector value --value-model DIR)"
        )
    return ValueSelector(load_value_model(model, device=device, **options), float(temperature))
