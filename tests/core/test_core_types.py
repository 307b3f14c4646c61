"""Data types: validation errors and derived views."""

from __future__ import annotations

import pytest
from hypothesis import given

from pasta_core import Candidate, History, InvalidValueError, PastaError, Trajectory, Turn
from pasta_core.testing import strategies as pst

CANDS = [Candidate("a red cat", "style"), Candidate("a blue cat", "mood"), Candidate("a cat", "rephrase")]


def test_empty_prompt_is_rejected():
    with pytest.raises(InvalidValueError, match="initial prompt"):
        History("   ")


def test_empty_candidate_is_rejected():
    with pytest.raises(InvalidValueError):
        Candidate("", "style")


def test_slate_larger_than_candidates_is_rejected():
    with pytest.raises(InvalidValueError, match="larger than"):
        Turn(CANDS[:1], CANDS[:2], 0)


def test_duplicate_categories_in_slate_are_rejected():
    cands = [Candidate("a", "style"), Candidate("b", "style")]
    with pytest.raises(InvalidValueError, match="one candidate per category"):
        Turn(cands, cands, 0)


@pytest.mark.parametrize("choice", [-1, 3, 7])
def test_choice_out_of_range_is_rejected(choice):
    with pytest.raises(InvalidValueError, match="out of range"):
        Turn(CANDS, CANDS, choice)


def test_choice_must_be_an_int():
    with pytest.raises(InvalidValueError):
        Turn(CANDS, CANDS, True)


def test_slate_item_must_be_a_candidate():
    with pytest.raises(InvalidValueError, match="not among"):
        Turn(CANDS, [Candidate("other", "style")], 0)


def test_long_critique_is_rejected_and_blank_is_none():
    with pytest.raises(InvalidValueError, match="12 words"):
        Turn(CANDS, CANDS, 0, critique=" ".join(["word"] * 13))
    assert Turn(CANDS, CANDS, 0, critique="   ").critique is None


def test_errors_share_one_root():
    assert issubclass(InvalidValueError, PastaError)


def test_history_views_and_text_rendering():
    turn = Turn(CANDS, CANDS[:2], 1, critique="more blue")
    history = History("a cat").append(turn)
    assert history.chosen_prompts == ["a blue cat"]
    assert history.last_prompt == "a blue cat"
    text = history.render_text()
    assert "Initial prompt: a cat" in text and "Turn 1 chosen: a blue cat" in text
    assert "Turn 1 critique: more blue" in text


@given(pst.histories())
def test_trajectory_rewards_follow_turns(history):
    trajectory = Trajectory("s1", history.initial_prompt, history.turns)
    assert trajectory.rewards == [t.reward for t in history.turns]
    assert trajectory.history == history
