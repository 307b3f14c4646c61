"""The value selector: slate properties, best value per category, sampling, loading."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasta_core.errors import InvalidValueError
from pasta_core.testing import strategies as pst
from pasta_core.testing.conformance import check_selector
from pasta_core.types import Candidate, History
from pasta_value.selector import ValueSelector, top_slate


class ScoreByText:
    """A stand-in value model: f(h, p) is a fixed hash of the candidate text."""

    plugin = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def q_values(self, histories, candidates):
        self.calls += 1
        return np.array([(hash(c.text) % 1000) / 1000 for c in candidates])


@given(st.lists(st.tuples(st.floats(-5, 5), st.sampled_from("abcde")), min_size=1, max_size=12),
       st.integers(1, 6))
def test_top_slate_is_the_best_slate(items: list[tuple[float, str]], size: int) -> None:
    """The greedy slate has the highest mean score of all valid slates of its size."""
    scores = np.array([s for s, _ in items])
    categories = [c for _, c in items]
    picked = top_slate(scores, categories, size)
    n = min(size, len(set(categories)))
    assert len(picked) == n and len({categories[i] for i in picked}) == n
    best = max(
        scores[list(combo)].sum()
        for combo in itertools.combinations(range(len(items)), n)
        if len({categories[i] for i in combo}) == n
    )
    assert scores[picked].sum() == pytest.approx(best)
    assert list(scores[picked]) == sorted(scores[picked], reverse=True)


def test_value_selector_follows_the_selector_contract() -> None:
    """Greedy and sampling selectors pass the core's selector conformance suite."""
    check_selector(ValueSelector(ScoreByText()), max_examples=30)
    check_selector(ValueSelector(ScoreByText(), temperature=0.5), max_examples=30)


@settings(max_examples=20)
@given(pst.histories(max_turns=1), pst.candidate_lists(), st.integers(0, 2**31 - 1))
def test_one_batched_call_per_slate(history: History, candidates: list[Candidate], seed: int) -> None:
    """All candidates are scored in a single value-model call."""
    model = ScoreByText()
    ValueSelector(model).select(history, candidates, 4, seed)
    assert model.calls == 1


def test_sampling_depends_on_the_seed_and_temperature() -> None:
    """High temperature gives different slates across seeds; near-zero gives the greedy one."""
    candidates = [Candidate(f"prompt {i}", f"c{i % 5}") for i in range(25)]
    history = History("a white cat")
    greedy = ValueSelector(ScoreByText()).select(history, candidates, 4, 0)
    cold = ValueSelector(ScoreByText(), temperature=1e-6)
    assert all(cold.select(history, candidates, 4, s) == greedy for s in range(5))
    hot = ValueSelector(ScoreByText(), temperature=100.0)
    assert len({tuple(hot.select(history, candidates, 4, s)) for s in range(10)}) > 1


def test_selector_factory_needs_a_checkpoint(tmp_path) -> None:
    """Missing or non-checkpoint folders give errors that say what to do."""
    from pasta_core import PastaError, get_plugins

    with pytest.raises(InvalidValueError, match="model=DIR"):
        get_plugins().create("selector", "value")
    with pytest.raises(PastaError, match="pasta value train"):
        get_plugins().create("selector", "value", model=str(tmp_path))


def test_selector_loads_a_saved_embedded_model(tmp_path) -> None:
    """A saved checkpoint loads through the registry and scores like the original."""
    pytest.importorskip("torch")
    from pasta_core import get_plugins
    from pasta_value.embedded import create_embedded

    model = create_embedded(encoder="hash", dim=16, width=16, seed=3)
    model.save(tmp_path)
    selector = get_plugins().create("selector", "value", model=str(tmp_path))
    candidates = [Candidate(f"prompt {i}", f"c{i % 5}") for i in range(25)]
    history = History("a white cat")
    assert np.allclose(selector.scores(history, candidates), model.q_values([history] * 25, candidates))
    assert selector.select(history, candidates, 4, 0) == ValueSelector(model).select(history, candidates, 4, 0)
