"""Baseline selectors: ``random`` (the paper's data-collection policy) and ``first``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core import hookimpl
from pasta_core.types import Candidate, History


def by_category(candidates: Sequence[Candidate]) -> dict[str, list[Candidate]]:
    """Candidates grouped by category, categories in order of first appearance."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.category, []).append(candidate)
    return groups


class RandomSelector:
    """Uniformly random slate, at most one candidate per category."""

    def select(
        self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int
    ) -> list[Candidate]:
        rng = np.random.default_rng(seed)
        groups = list(by_category(candidates).values())
        picked = rng.permutation(len(groups))[: min(slate_size, len(groups))]
        return [groups[g][rng.integers(len(groups[g]))] for g in picked]


class FirstSelector:
    """First candidate of each category: the untrained-LLM baseline of the paper."""

    def select(
        self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int
    ) -> list[Candidate]:
        return [group[0] for group in by_category(candidates).values()][:slate_size]


def _no_options(cls: type) -> Any:
    def factory(**options: Any) -> Any:
        if options:
            from pasta_core.errors import InvalidValueError

            raise InvalidValueError(f"selector takes no options, got {sorted(options)}")
        return cls()

    return factory


@hookimpl
def pasta_register_selectors(register: Any) -> None:
    register("random", _no_options(RandomSelector), "uniform, at most one per category (data collection)")
    register("first", _no_options(FirstSelector), "first candidate of each category (untrained LMM baseline)")
