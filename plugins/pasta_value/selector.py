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
        return self.select_many([history], [candidates], slate_size, [seed])[0]

    def select_many(self, histories: Sequence[History], candidates: Sequence[Sequence[Candidate]], slate_size: int,
                    seeds: Sequence[int]) -> list[list[Candidate]]:
        """The slates of many episodes from one batched ``q_values`` call."""
        if any(not cs for cs in candidates):
            raise InvalidValueError("the value selector got no candidates")
        pairs_h = [h for h, cs in zip(histories, candidates) for _ in cs]
        pairs_c = [c for cs in candidates for c in cs]
        q = np.asarray(self.value_model.q_values(pairs_h, pairs_c), dtype=np.float64)
        bounds = np.cumsum([0] + [len(cs) for cs in candidates])
        slates = []
        for cs, seed, a, b in zip(candidates, seeds, bounds[:-1], bounds[1:]):
            scores = q[a:b]
            if self.temperature > 0:
                scores = scores / self.temperature + np.random.default_rng(seed).gumbel(size=len(scores))
            slates.append([cs[i] for i in top_slate(scores, [c.category for c in cs], slate_size)])
        return slates


def create_value_selector(model: str | None = None, temperature: float | str = 0.0, device: str = "cpu", *,
                          plugins: Any, **options: Any) -> ValueSelector:
    """Factory: ``model=DIR`` (a value-model checkpoint folder, or a Hub repo ``hf://owner/name``
    downloaded into the Hugging Face cache), ``temperature`` (0: greedy)."""
    from pasta_checkpoints.resolve import resolve_model

    if not model:
        raise InvalidValueError(
            "the value selector needs model=DIR, a checkpoint from `pasta value train` "
            "(pasta run --selector value --value-model DIR)"
        )
    folder = resolve_model(model, "value-model", plugins)
    return ValueSelector(plugins.load("value-model", folder, device=device, **options), float(temperature))
