"""On small tabular problems with a known optimal Q, the trained selector picks the
optimal slate."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

from pasta_core.iql import IQLConfig, build_transitions, train_iql  # noqa: E402
from pasta_core.types import Candidate, History, Trajectory, Turn  # noqa: E402
from pasta_value.embedded import create_embedded  # noqa: E402
from pasta_value.selector import ValueSelector  # noqa: E402


@st.composite
def tabular_problems(draw: st.DrawFn) -> tuple[list[Candidate], dict[Candidate, float]]:
    """C categories x n candidates with distinct integer worths."""
    categories = draw(st.integers(2, 3))
    per_category = draw(st.integers(2, 3))
    size = categories * per_category
    worths = draw(st.permutations(range(size)))
    candidates = [Candidate(f"item {i}", f"c{i % categories}") for i in range(size)]
    return candidates, {c: float(w) for c, w in zip(candidates, worths)}


def _episodes(candidates: list[Candidate], worth: dict[Candidate, float]) -> list[Trajectory]:
    """Every possible slate once (a balanced design): reward = mean worth of the slate."""
    groups: dict[str, list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.category, []).append(c)
    episodes = []
    for i, slate in enumerate(itertools.product(*groups.values())):
        reward = float(np.mean([worth[c] for c in slate]))
        episodes.append(Trajectory(f"s{i}", "a tabular problem", [Turn(candidates, slate, 0, reward=reward)]))
    return episodes


@settings(max_examples=4, deadline=None)
@given(tabular_problems())
def test_trained_selector_picks_the_optimal_slate(problem) -> None:
    """q(h, P) = mean worth, so the optimal slate is the best candidate of every category."""
    candidates, worth = problem
    episodes = _episodes(candidates, worth)
    data = build_transitions(episodes, [t.rewards for t in episodes])
    model = create_embedded(encoder="hash", dim=32, width=32)
    config = IQLConfig(steps=150, batch_size=64, lr=3e-3, optimizer="adam", weight_decay=0.0, seed=1)
    train_iql(model, data, config, progress=False)
    categories = sorted({c.category for c in candidates})
    slate = ValueSelector(model).select(History("a tabular problem"), candidates, len(categories), seed=0)
    best = {max((c for c in candidates if c.category == k), key=worth.get) for k in categories}
    assert set(slate) == best


def test_the_edit_option_feeds_the_candidate_tower_what_the_expansion_changes(tmp_path):
    """``edit=true``: the candidate tower reads e(p) and e(p) - e(last chosen prompt), so two
    histories with different last prompts score one candidate differently even with the
    history tower's output held equal; the setting is saved and loaded back."""
    import torch

    from pasta_core.errors import InvalidValueError
    from pasta_value.embedded import EmbeddedValueModel, create_embedded

    model = create_embedded(encoder="words", dim=16, width=8, edit="true")
    assert model.settings.edit and model.module.candidate[0].in_features == 32
    d = model.embedder.dim
    h = torch.zeros(2, model.module.history[0].in_features)
    h[1, d : 2 * d] = 1.0  # only the last prompt differs
    with torch.no_grad():
        model.module.history[0].weight[:, d : 2 * d] = 0.0  # the history tower cannot see it
        q, _ = model.module(h, torch.ones(2, d))
    assert not torch.isclose(q[0], q[1])
    loaded = EmbeddedValueModel.load(model.save(tmp_path / "m"))
    assert loaded.settings.edit and torch.equal(loaded.module.candidate[0].weight, model.module.candidate[0].weight)
    assert not create_embedded(encoder="words", dim=16, edit="false").settings.edit
    with pytest.raises(InvalidValueError, match="edit must be true or false"):
        create_embedded(encoder="words", dim=16, edit="maybe")
