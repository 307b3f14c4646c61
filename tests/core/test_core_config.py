"""Episode settings and the word-limit schedule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasta_core import EpisodeConfig, InvalidValueError, word_limit


def test_defaults_are_the_papers():
    c = EpisodeConfig()
    assert (c.turns, c.slate_size, c.images_per_prompt, c.num_candidates, c.word_cap) == (5, 4, 4, 25, 62)
    assert c.reward_mode == "sparse"


def test_slate_cannot_exceed_categories():
    with pytest.raises(InvalidValueError, match="one candidate per category"):
        EpisodeConfig(slate_size=6)


@given(st.integers(1, 70), st.integers(1, 12), st.integers(1, 100))
def test_word_limit_is_monotone_capped_and_grows_from_the_prompt(w0, turns, cap):
    limits = [word_limit(w0, t, turns, cap) for t in range(1, turns + 1)]
    assert all(a <= b for a, b in zip(limits, limits[1:]))
    assert limits[-1] == max(cap, w0)
    assert all(w0 <= x <= max(cap, w0) for x in limits)


def test_word_limit_rejects_turns_outside_the_episode():
    with pytest.raises(InvalidValueError):
        word_limit(3, 6, 5, 62)


@pytest.mark.parametrize(("field", "value"), [
    ("turns", 10**9), ("turns", 0), ("turns", "5"), ("turns", 2.0), ("turns", True), ("images_per_prompt", 17),
    ("slate_size", 17), ("candidates_per_category", 101), ("word_cap", 1001),
])
def test_settings_are_bounded_like_pasta_runs_options(field, value):
    """A hand-edited session.json is held to the command line's ranges (turns 1..50, ...)."""
    with pytest.raises(InvalidValueError, match=f"{field} must be an integer 1.."):
        EpisodeConfig(**{field: value})


@pytest.mark.parametrize("categories", ["abcde", ["a", 1, "c", "d", "e"], ["a", "", "c", "d", "e"], 5])
def test_categories_are_a_list_of_names(categories):
    with pytest.raises(InvalidValueError, match="categories"):
        EpisodeConfig(categories=categories)
