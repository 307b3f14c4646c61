"""The aggregators' own semantics, beyond the shared contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pasta_aggregators import MaxAggregator, MeanAggregator, SoftmaxAggregator
from pasta_core.errors import InvalidValueError


def test_softmax_goes_from_max_to_mean_with_beta():
    s = np.array([[0.0, 1.0, 3.0]])
    assert np.isclose(SoftmaxAggregator(1e-4)(s)[0], 3.0)
    assert np.isclose(SoftmaxAggregator(1e4)(s)[0], 4.0 / 3, atol=1e-3)


def test_numpy_and_torch_agree_and_torch_is_differentiable():
    s = np.random.default_rng(0).normal(size=(3, 4))
    for agg in (MaxAggregator(), MeanAggregator(), SoftmaxAggregator(0.5)):
        t = torch.tensor(s, requires_grad=True)
        out = agg(t)
        assert np.allclose(out.detach().numpy(), agg(s))
        out.sum().backward()
        assert t.grad is not None


def test_softmax_needs_positive_beta():
    with pytest.raises(InvalidValueError):
        SoftmaxAggregator(0)
