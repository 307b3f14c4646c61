"""Every built-in plugin (and every fake) passes the same suite third parties run."""

from __future__ import annotations

import pytest

from pasta_core import get_plugins
from pasta_core.testing import (
    FakeGenerator,
    FakeSelector,
    FakeT2I,
    FakeUserModel,
    check_aggregator,
    check_generator,
    check_selector,
    check_t2i,
    check_user_model,
)


@pytest.mark.parametrize("name", ["random", "first"])
def test_builtin_selectors(name):
    check_selector(get_plugins().create("selector", name))


@pytest.mark.parametrize("name", ["softmax", "max", "mean"])
def test_builtin_aggregators(name):
    check_aggregator(get_plugins().create("aggregator", name))


def test_template_generator():
    check_generator(get_plugins().create("generator", "template"), max_examples=30)


def test_procedural_t2i():
    check_t2i(get_plugins().create("t2i", "procedural", size=64))


def test_simple_user_model():
    check_user_model(get_plugins().create("user-model", "simple", types=3, seed=1))


def test_fakes_pass_their_own_suite():
    check_generator(FakeGenerator(), max_examples=10)
    check_selector(FakeSelector(), max_examples=20)
    check_t2i(FakeT2I())
    check_user_model(FakeUserModel())


class _BrokenSelector:
    def select(self, history, candidates, slate_size, seed):
        return list(candidates)[:slate_size]  # ignores categories


class _OrderDependentAggregator:
    def __call__(self, scores):
        return scores[..., 0]


def test_suite_catches_a_broken_selector():
    with pytest.raises(AssertionError):
        check_selector(_BrokenSelector(), shrink=False)


def test_suite_catches_an_order_dependent_aggregator():
    with pytest.raises(AssertionError, match="order"):
        check_aggregator(_OrderDependentAggregator())
