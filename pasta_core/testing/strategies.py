"""Hypothesis strategies for PASTA values: prompts, candidates, histories and slates."""

from __future__ import annotations

from hypothesis import strategies as st

from pasta_core.config import DEFAULT_CATEGORIES
from pasta_core.types import Candidate, History, Turn

WORDS = (
    "cat dog red blue house tree sunset night castle robot watercolor painting tiny giant "
    "two bright dark forest ocean city flower golden foggy pixel art sketch bird car moon"
).split()


def words() -> st.SearchStrategy[str]:
    """Prompt words: mostly known vocabulary, sometimes arbitrary letters."""
    return st.one_of(
        st.sampled_from(WORDS),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10),
    )


def prompts(min_words: int = 1, max_words: int = 10) -> st.SearchStrategy[str]:
    """Initial prompts of ``min_words``..``max_words`` words."""
    return st.lists(words(), min_size=min_words, max_size=max_words).map(" ".join)


def categories(max_size: int = 8) -> st.SearchStrategy[tuple[str, ...]]:
    return st.one_of(
        st.just(DEFAULT_CATEGORIES),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=max_size, unique=True).map(tuple),
    )


def candidate_lists(
    category_names: tuple[str, ...] | None = None, max_per_category: int = 5
) -> st.SearchStrategy[list[Candidate]]:
    """Candidates in several categories, distinct texts within a category."""

    @st.composite
    def build(draw: st.DrawFn) -> list[Candidate]:
        cats = category_names or draw(categories())
        result: list[Candidate] = []
        for category in cats:
            texts = draw(st.lists(prompts(1, 6), min_size=1, max_size=max_per_category, unique=True))
            result.extend(Candidate(t, category) for t in texts)
        return draw(st.permutations(result))

    return build()


@st.composite
def slates(draw: st.DrawFn, max_size: int = 6) -> tuple[list[Candidate], list[Candidate]]:
    """(candidates, slate): a valid slate of at most one candidate per category."""
    candidates = draw(candidate_lists())
    by_category: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_category.setdefault(candidate.category, []).append(candidate)
    cats = draw(st.lists(st.sampled_from(sorted(by_category)), min_size=1, max_size=max_size, unique=True))
    return candidates, [draw(st.sampled_from(by_category[c])) for c in cats]


@st.composite
def turns(draw: st.DrawFn) -> Turn:
    candidates, slate = draw(slates())
    critique = draw(st.one_of(st.none(), prompts(1, 12)))
    reward = draw(st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)))
    choice = draw(st.integers(0, len(slate) - 1))
    return Turn(candidates, slate, choice, critique=critique, reward=reward)


@st.composite
def histories(draw: st.DrawFn, max_turns: int = 5) -> History:
    """A history of 0..``max_turns`` turns."""
    return History(draw(prompts()), draw(st.lists(turns(), max_size=max_turns)))


def scores(max_types: int = 4, max_images: int = 6) -> st.SearchStrategy:
    """Score arrays of shape (rows, images) for aggregator tests."""
    from hypothesis.extra import numpy as hnp

    shapes = st.tuples(st.integers(1, max_types), st.integers(1, max_images))
    return hnp.arrays("float64", shapes, elements=st.floats(-50, 50, allow_nan=False, width=32))
