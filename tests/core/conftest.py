from __future__ import annotations

import pytest


@pytest.fixture
def sample_trajectory():
    from pasta_core import Candidate, Trajectory, Turn

    cands = [Candidate(f"a cat {i}", c) for i, c in enumerate(["style", "mood", "detail"])]
    turns = [
        Turn(cands, cands, 1, critique="more blue", reward=0.0, seeds=[[1, 2], [3, 4], [5, 6]]),
        Turn(cands, cands[:2], 0, reward=1.5, satisfaction=[4, 2], comparison="better"),
    ]
    return Trajectory("s0", "a cat", turns, user_type=2, metadata={"seed": 1})
