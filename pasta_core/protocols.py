"""The five component protocols every plugin implements.

They are structural (``typing.Protocol``): a plugin needs no base class, only these
methods. ``pasta_core.testing`` has a conformance suite that checks the contracts stated
in the docstrings below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import numpy as np

from pasta_core.types import Candidate, Column, History

if TYPE_CHECKING:
    from PIL.Image import Image


@attrs.frozen
class GenerationRequest:
    """What a candidate generator is asked for in one turn.

    ``turn`` is 1-based. Every returned candidate must belong to one of ``categories``, and
    have at most ``word_limit`` words; ``per_category`` candidates per category are wanted.
    """

    history: History
    turn: int
    categories: tuple[str, ...]
    per_category: int
    word_limit: int
    seed: int


@runtime_checkable
class CandidateGenerator(Protocol):
    """Turns a history into categorized prompt expansions (the paper's candidate generator)."""

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        """Return ``per_category`` distinct candidates for each requested category.

        Contract: categories are among ``request.categories``; texts are non-empty, distinct
        and within ``request.word_limit`` words; the same request gives the same answer when
        the backend is deterministic (the embedded template generator is).
        """
        ...


@runtime_checkable
class Selector(Protocol):
    """Picks the slate shown to the person from the candidates."""

    def select(
        self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int
    ) -> list[Candidate]:
        """Return ``min(slate_size, number of categories)`` candidates, at most one per category.

        Contract: every returned candidate is one of ``candidates``; no two share a
        category; deterministic for a given ``seed``.
        """
        ...


@runtime_checkable
class T2IModel(Protocol):
    """Renders prompts into images; one seed per image so any image can be reproduced."""

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Image]:
        """Return one PIL image per (prompt, seed) pair, in order.

        Contract: ``len(result) == len(prompts) == len(seeds)``; the same prompt and seed give
        the same image. Callers batch: one call may hold every image of a turn, or of many
        episodes.
        """
        ...


@runtime_checkable
class Aggregator(Protocol):
    """Reduces the M image scores of a column to one column utility."""

    def __call__(self, scores: Any) -> Any:
        """Reduce the last axis of ``scores`` (a numpy array or a torch tensor).

        Contract: the result lies between the minimum and the maximum of the scores, does
        not depend on their order, and is differentiable where torch tensors come in.
        """
        ...


@runtime_checkable
class UserModel(Protocol):
    """A model of people with K latent user types (the paper's user model).

    Scores are s(k, p0, I): image I judged against the person's *initial* prompt p0 (their
    intent), because people see only images, never the expansions.
    """

    @property
    def num_types(self) -> int:
        """K, the number of latent user types."""
        ...

    @property
    def prior(self) -> np.ndarray:
        """Prior probability of each user type, shape (K,), sums to 1."""
        ...

    def scores(self, intent: str, images: Sequence[Image]) -> np.ndarray:
        """s(k, intent, image) for every type and image: shape (K, len(images))."""
        ...

    def utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        """R_k(column): the aggregated column utility per type, shape (K, len(columns))."""
        ...

    def choice_probabilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        """P(choose column | type): shape (K, len(columns)), rows sum to 1, and within a
        row a column with a higher utility is never less likely."""
        ...

    def posterior(self, intent: str, observed: Sequence[tuple[Sequence[Column], int]]) -> np.ndarray:
        """P(type | the choices observed so far): shape (K,), sums to 1.

        ``observed`` holds, per turn, the columns shown and the chosen column's index; an
        empty sequence gives the prior.
        """
        ...
