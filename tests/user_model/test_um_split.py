"""EM split moves: a starved type is re-seeded from the most crowded one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pasta_clip_em.config import ModelConfig
from pasta_clip_em.em import EMTrainer, TrainConfig
from pasta_clip_em.evaluate import sample_posteriors
from pasta_clip_em.model import build_model
from pasta_clip_em.split import split_type, starved_and_crowded
from pasta_clip_em.synthetic import planted_world
from pasta_core import get_plugins


def test_only_a_starved_type_is_split():
    assert starved_and_crowded(torch.tensor([0.25, 0.25, 0.25, 0.25]), 0.5) is None
    assert starved_and_crowded(torch.tensor([0.4, 0.05, 0.3, 0.25]), 0.5) == (1, 0)
    assert starved_and_crowded(torch.tensor([0.4, 0.13, 0.22, 0.25]), 0.5) is None  # 0.13 >= 0.5 / 4


def test_split_copies_the_crowded_type_and_shares_its_mass():
    world = planted_world(types=3, dim=8, raters=20, pairs_per_rater=6, seed=3)
    model = build_model(ModelConfig(dim=8, types=3, score_scale=10.0), seed=0)
    trainer = EMTrainer(model, world.train, TrainConfig(steps=4, batch_size=8, metrics="none"),
                        aggregator=model.config.build_aggregator(get_plugins()))
    trainer.train(progress=False)  # the optimizer has moments now
    trainer.prior = torch.tensor([0.7, 0.02, 0.28])
    split_type(trainer, 1, 0, noise=0.3, seed=5)
    d = 8
    for tower in (trainer.model.text, trainer.model.image):
        w, b = tower.heads.weight.detach(), tower.heads.bias.detach()
        assert torch.equal(b[d:2 * d], b[:d])
        change = (w[d:2 * d] - w[:d]).std() / w[:d].std()
        assert 0.1 < float(change) < 0.6  # a perturbed copy
        moments = trainer.optimizer.state[tower.heads.weight]["exp_avg"]
        assert torch.equal(moments[d:2 * d], moments[:d])
    assert torch.allclose(trainer.prior, torch.tensor([0.36, 0.36, 0.28]))
    for a, b in zip(trainer.model.state_dict().values(), trainer.target.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_splits_recover_a_type_lost_at_the_start():
    """A start where type 1 is a starved copy of type 0 (two planted types share one learned
    type): without splits EM keeps it starved; with them it finds the third type."""
    from sklearn.metrics import adjusted_rand_score

    world = planted_world(types=3, dim=16, raters=240, pairs_per_rater=40, test_pairs_per_rater=20, seed=1)

    def run(split_every: int) -> float:
        model = build_model(ModelConfig(dim=16, types=3, score_scale=10.0), seed=2)
        aggregator = model.config.build_aggregator(get_plugins())
        with torch.no_grad():
            for tower in (model.text, model.image):
                tower.heads.weight[16:32] = tower.heads.weight[:16]
                tower.heads.bias[16:32] = tower.heads.bias[:16]
        config = TrainConfig(steps=300, batch_size=32, lr=3e-3, target_every=20, prior_momentum=0.05,
                             metrics="none", split_every=split_every, split_until=0.5)
        trainer = EMTrainer(model, world.train, config, prior=np.array([0.49, 0.02, 0.49]), aggregator=aggregator)
        trainer.train(progress=False)
        post = sample_posteriors(trainer.model, trainer.prior_array, world.train, aggregator=aggregator)
        return adjusted_rand_score(world.rater_types, post.argmax(1)), trainer.splits

    without, none = run(0)
    with_splits, splits = run(25)
    assert none == [] and splits and splits[0][1] == 1
    assert with_splits > without + 0.1, (with_splits, without)
