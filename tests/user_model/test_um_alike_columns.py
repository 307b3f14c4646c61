"""EM stays finite on a slate whose columns all look alike (issue 21's divergence).

The choice scale tau(R) divides by the spread of a turn's column utilities; where every
column has the same utility the standard deviation is not differentiable, and the masked
spread's sqrt backward gave NaN: one such turn in one batch made every weight NaN.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pasta_clip_em.model import spread_of


def test_spread_of_alike_values_has_a_zero_gradient() -> None:
    variance = torch.tensor([[0.0], [4.0]], requires_grad=True)
    spread = spread_of(variance)
    spread.sum().backward()
    assert spread.tolist() == [[0.0], [2.0]]
    assert variance.grad.tolist() == [[0.0], [0.25]]
    raw = torch.tensor([[0.0]], requires_grad=True)
    raw.sqrt().sum().backward()
    assert not torch.isfinite(raw.grad).all()  # what it replaces


def test_masked_choice_probabilities_of_alike_columns_have_finite_gradients() -> None:
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.model import build_model

    model = build_model(ModelConfig(dim=8, types=3), seed=0)
    utilities = torch.tensor([[[1.5, 1.5, 1.5, 1.5], [0.2, 1.0, -0.3, 0.4]]], requires_grad=True)
    mask = torch.ones(1, 1, 4, dtype=torch.bool)
    log_probs = model.choice_log_probs(utilities, mask)
    assert torch.allclose(log_probs[0, 0].exp(), torch.full((4,), 0.25))
    log_probs[..., 0].sum().backward()
    assert torch.isfinite(utilities.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    unmasked = model.choice_log_probs(utilities.detach(), None)
    assert torch.allclose(unmasked, log_probs.detach())


def alike_labels(dim: int = 8, sessions: int = 6):
    """Sessions of 2 turns of 4 columns x 2 images; in session 0's first turn every
    column shows the same two images."""
    from pasta_clip_em.labels import LabelSet, turn_labels

    rng = np.random.default_rng(0)
    images = rng.normal(size=(sessions * 2 * 4 * 2, dim)).astype(np.float32)
    grid = np.arange(len(images)).reshape(sessions * 2, 4, 2)
    grid[0] = grid[0, 0]  # four alike columns
    sample = np.repeat(np.arange(sessions), 2)
    comparison = np.tile([np.nan, 1.0], sessions)
    satisfaction = rng.integers(1, 6, size=(sessions * 2, 4)).astype(np.float32)
    turns = turn_labels(sample, np.zeros(sessions * 2), grid, np.ones((sessions * 2, 4), bool),
                        rng.integers(4, size=sessions * 2), comparison, satisfaction)
    text = rng.normal(size=(1, dim)).astype(np.float32)
    return LabelSet(text, images, [f"s{i}" for i in range(sessions)], turns=turns)


@pytest.mark.parametrize("satisfaction", ["gaussian", "ordinal"])
def test_em_steps_stay_finite_on_alike_columns(satisfaction: str) -> None:
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.em import EMTrainer, TrainConfig
    from pasta_clip_em.model import build_model
    from pasta_core.plugins import get_plugins

    labels = alike_labels()
    config = ModelConfig(dim=8, types=3, satisfaction=satisfaction)
    trainer = EMTrainer(build_model(config, seed=0), labels, TrainConfig(steps=5, batch_size=6, lr=1e-2),
                        aggregator=config.build_aggregator(get_plugins()))
    for _ in range(5):
        metrics = trainer.step(np.arange(labels.num_samples))
        assert np.isfinite(metrics["loss"]) and np.isfinite(metrics["grad_norm"])
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values())
    assert np.isfinite(trainer.prior_array).all()
