"""Mini-batch EM: it recovers planted types, resumes exactly, logs metrics; the losses."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pasta_clip_em.config import ModelConfig
from pasta_clip_em.em import STATE_FILE, EMTrainer, TrainConfig
from pasta_clip_em.evaluate import pair_probabilities, sample_posteriors
from pasta_clip_em.labels import LabelSet, pair_labels, rating_labels, turn_labels
from pasta_clip_em.losses import LossWeights, make_batch, sample_loglik
from pasta_clip_em.model import build_model
from pasta_clip_em.synthetic import planted_world
from pasta_core import get_plugins


def _aggregator(model):
    """The aggregator the model's config names, from the installed plugins."""
    return model.config.build_aggregator(get_plugins())


def _accuracy(model, prior, world):
    post = sample_posteriors(model, prior, world.train, aggregator=_aggregator(model))
    p = pair_probabilities(model, world.test, post)
    return float(np.mean((p > 0.5) == (world.test.pairs.columns["target"] > 0.5))), post


@pytest.mark.slow
def test_em_recovers_planted_types_close_to_the_planted_model():
    from sklearn.metrics import adjusted_rand_score

    torch.manual_seed(0)
    world = planted_world(types=3, dim=16, raters=240, pairs_per_rater=40, test_pairs_per_rater=20, seed=1)
    planted_acc, _ = _accuracy(world.planted, np.ones(3) / 3, world)
    model = build_model(ModelConfig(dim=16, types=3, score_scale=10.0), seed=2)
    trainer = EMTrainer(model, world.train, TrainConfig(steps=300, batch_size=32, lr=3e-3, target_every=20,
                                                        prior_momentum=0.05, metrics="none"),
                        aggregator=_aggregator(model))
    trainer.train(progress=False)
    learned_acc, post = _accuracy(trainer.model, trainer.prior_array, world)
    one = build_model(ModelConfig(dim=16, types=1, score_scale=10.0), seed=2)
    EMTrainer(one, world.train, TrainConfig(steps=300, batch_size=32, lr=3e-3, metrics="none"),
              aggregator=_aggregator(one)).train(progress=False)
    single_acc, _ = _accuracy(one, np.ones(1), world)
    assert learned_acc > planted_acc - 0.06, (learned_acc, planted_acc)
    assert learned_acc > single_acc + 0.02, (learned_acc, single_acc)
    assert adjusted_rand_score(world.rater_types, post.argmax(1)) > 0.5


def _small_trainer(out, steps=12, **kw):
    world = planted_world(types=2, dim=8, raters=20, pairs_per_rater=6, seed=3)
    model = build_model(ModelConfig(dim=8, types=2, score_scale=10.0), seed=0)
    config = TrainConfig(steps=steps, batch_size=8, lr=1e-2, save_every=4, target_every=3, log_every=2, **kw)
    return EMTrainer(model, world.train, config, out=out, aggregator=_aggregator(model))


def test_a_stopped_run_resumes_to_the_same_weights(tmp_path):
    full = _small_trainer(tmp_path / "full")
    full.train(progress=False)
    first = _small_trainer(tmp_path / "cut")
    first.train(progress=False, stop_after=6)  # killed after step 6; last save at step 4
    second = _small_trainer(tmp_path / "cut")
    assert second.resume() and second.step_count == 4
    second.train(progress=False)
    for a, b in zip(full.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert np.allclose(full.prior_array, second.prior_array)


def test_a_trainer_state_from_before_the_score_scale_rename_resumes(tmp_path):
    """Trainer states written when the score scale was called log_temperature resume to
    the same weights (the names are translated on read)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    full = _small_trainer(tmp_path / "full")
    full.train(progress=False)
    first = _small_trainer(tmp_path / "cut")
    first.train(progress=False, stop_after=4)
    path = tmp_path / "cut" / STATE_FILE
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = {k.replace("log_score_scale", "log_temperature"): v for k, v in load_file(str(path)).items()}
    assert "model.log_temperature" in tensors and "target.log_temperature" in tensors
    save_file(tensors, str(path), metadata=meta)
    second = _small_trainer(tmp_path / "cut")
    assert second.resume() and second.step_count == 4
    second.train(progress=False)
    for a, b in zip(full.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)


def test_metrics_are_written_as_jsonl(tmp_path):
    trainer = _small_trainer(tmp_path, steps=6)
    trainer.train(progress=False)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert {"loss", "posterior_entropy", "prior_entropy", "score_scale"} <= set(records[0])
    assert (tmp_path / STATE_FILE).is_file() and (tmp_path / "model.safetensors").is_file()


def test_batches_are_deterministic_and_cover_every_sample(tmp_path):
    trainer = _small_trainer(None)
    seen = np.concatenate([trainer.batch_samples(s) for s in range(2)])
    assert sorted(seen) == list(range(16)) or len(set(seen)) == len(seen)
    assert np.array_equal(trainer.batch_samples(5), _small_trainer(None).batch_samples(5))


def _one_sample_set(**kinds):
    rng = np.random.default_rng(0)
    return LabelSet(rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(6, 4)).astype(np.float32),
                    ["s0", "s1"], **kinds)


def _loglik(model, labels):
    agg = get_plugins().create("aggregator", "max")
    return sample_loglik(model, agg, make_batch(labels, np.arange(labels.num_samples)), LossWeights())


def test_bradley_terry_with_a_tie_is_symmetric():
    model = build_model(ModelConfig(dim=4, types=2))
    ab = _one_sample_set(pairs=pair_labels([0], [0], [1], [2], [0.5]))
    ba = _one_sample_set(pairs=pair_labels([0], [0], [2], [1], [0.5]))
    assert torch.allclose(_loglik(model, ab), _loglik(model, ba))
    win = _one_sample_set(pairs=pair_labels([0], [0], [1], [2], [1.0]))
    lose = _one_sample_set(pairs=pair_labels([0], [0], [1], [2], [0.0]))
    total = _loglik(model, win)[0].exp() + _loglik(model, lose)[0].exp()
    assert torch.allclose(total, torch.ones(2), atol=1e-5)


def test_labels_go_to_their_own_sample():
    model = build_model(ModelConfig(dim=4, types=2))
    ll = _loglik(model, _one_sample_set(ratings=rating_labels([1, 1], [0, 1], [0, 3], [0.5, -1.0])))
    assert torch.all(ll[0] == 0) and torch.all(ll[1] < 0)


def test_turn_likelihood_uses_choice_in_turn_and_cross_turn_terms():
    model = build_model(ModelConfig(dim=4, types=2, score_scale=1.0))
    images = np.array([[[0, 1], [2, 3], [4, 5]], [[1, 0], [3, 2], [5, 4]]])
    columns = np.array([[True, True, True], [True, True, False]])
    base = dict(sample=[0, 0], prompt=[0, 0], images=images, columns=columns, chosen=[0, 1])
    with_cmp = _loglik(model, _one_sample_set(turns=turn_labels(**base, comparison=[np.nan, 1.0])))
    without = _loglik(model, _one_sample_set(turns=turn_labels(**base, comparison=[np.nan, np.nan])))
    assert not torch.allclose(with_cmp, without)
    assert torch.all(with_cmp[0] < 0)
    with_cmp.sum().backward()  # differentiable end to end
    assert model.log_tau.grad is not None


@pytest.mark.parametrize("likelihood", ["gaussian", "ordinal"])
def test_satisfaction_scores_follow_the_column_utilities(likelihood):
    """Column scores that rise with the column utilities are likelier under that type than
    the reversed scores; unscored (NaN) columns and padded columns add nothing."""
    model = build_model(ModelConfig(dim=4, types=2, score_scale=5.0, satisfaction=likelihood), seed=1)
    with torch.no_grad():
        model.satisfaction_scale.fill_(1.0)
    images = np.array([[[0, 1], [2, 3], [4, 5]]])
    base = dict(sample=[0], prompt=[0], images=images, columns=np.ones((1, 3), bool), chosen=[0], comparison=[np.nan])
    labels = _one_sample_set(turns=turn_labels(**base))
    batch = make_batch(labels, np.arange(labels.num_samples))
    t, i = model.text(batch.text), model.image(batch.images)
    scores = model.score_scale * torch.einsum("nkd,nlmkd->nklm", t[batch.labels["turns"]["prompt"]],
                                              i[batch.labels["turns"]["images"]])
    order = _aggregator(model)(scores)[0, 0].argsort().numpy()  # type 0's columns, worst first
    agreeing, reversed_ = np.zeros(3), np.zeros(3)
    agreeing[order], reversed_[order] = [1, 3, 5], [5, 3, 1]
    ll = {name: _loglik(model, _one_sample_set(turns=turn_labels(**base, satisfaction=[s])))[0, 0]
          for name, s in (("none", [np.nan] * 3), ("agree", agreeing), ("reverse", reversed_))}
    assert ll["agree"] > ll["reverse"]
    assert torch.allclose(ll["none"], _loglik(model, labels)[0, 0])
    padded = turn_labels(**{**base, "columns": np.array([[True, True, False]])}, satisfaction=[[3, 3, np.nan]])
    also_padded = turn_labels(**{**base, "columns": np.array([[True, True, False]])}, satisfaction=[[3, 3, 5]])
    assert torch.allclose(_loglik(model, _one_sample_set(turns=padded)), _loglik(model, _one_sample_set(turns=also_padded)))


@settings(max_examples=30, deadline=None)
@given(utilities=st.lists(st.floats(-60, 60), min_size=1, max_size=6), scale=st.floats(0.01, 3.0),
       cuts=st.lists(st.floats(-3, 3), min_size=4, max_size=4))
def test_ordinal_satisfaction_is_a_distribution_over_the_five_scores(utilities, scale, cuts):
    """For any utility, scale and cut parameters, P(score = 1..5) sums to 1, and a higher
    utility never makes the top score less likely."""
    from pasta_clip_em.losses import _ordinal

    model = build_model(ModelConfig(dim=4, types=1, satisfaction="ordinal"))
    with torch.no_grad():
        model.satisfaction_scale.fill_(scale)
        model.satisfaction_cuts.copy_(torch.tensor(cuts))
    u = torch.tensor(sorted(utilities), dtype=torch.float64).view(1, 1, -1)
    model.double()
    probs = torch.stack([_ordinal(model, u, torch.full((1, u.shape[-1]), j)).exp() for j in range(5)])
    assert torch.allclose(probs.sum(0), torch.ones_like(u), atol=1e-9)
    top = probs[4, 0, 0]
    assert bool((top[1:] >= top[:-1] - 1e-12).all())
    cut_points = model.satisfaction_cut_points()
    assert bool((cut_points[1:] > cut_points[:-1]).all())
    u.requires_grad_(True)
    for j in range(5):  # finite gradients in every bin, the open-ended ones included
        model.zero_grad()
        _ordinal(model, u, torch.full((1, u.shape[-1]), j)).sum().backward()
        assert bool(torch.isfinite(u.grad).all()) and bool(torch.isfinite(model.satisfaction_cuts.grad).all())
        u.grad = None


def test_interval_log_prob_is_exact_and_finite_in_both_tails():
    from pasta_clip_em.losses import interval_log_prob

    low = torch.tensor([-math.inf, -1.0, 0.5, 8.0, -9.0], dtype=torch.float64)
    high = torch.tensor([-1.0, 0.5, 2.0, math.inf, -8.5], dtype=torch.float64)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    exact = (normal.cdf(high[:3]) - normal.cdf(low[:3])).log()
    got = interval_log_prob(low, high)
    assert torch.allclose(got[:3], exact, atol=1e-12)
    assert bool(torch.isfinite(got).all()) and got[3] < -30 and got[4] < -30


def test_satisfaction_scores_are_validated():
    from pasta_core.errors import InvalidValueError

    base = dict(sample=[0], prompt=[0], images=np.zeros((1, 2, 1), int), columns=np.ones((1, 2), bool), chosen=[0],
                comparison=[np.nan])
    with pytest.raises(InvalidValueError, match="1..5"):
        turn_labels(**base, satisfaction=[[0, 3]])
    with pytest.raises(InvalidValueError, match="turns, columns"):
        turn_labels(**base, satisfaction=[[3, 3, 3]])


def test_held_back_samples_split_the_samples_and_are_never_trained_on():
    from pasta_clip_em.em import hold_out

    train, held = hold_out(20, 0.25, seed=3)
    assert len(held) == 5 and sorted(np.concatenate([train, held])) == list(range(20))
    assert np.array_equal(hold_out(20, 0.25, seed=3)[1], held)
    assert len(hold_out(20, 0.0, seed=3)[1]) == 0 and len(hold_out(2, 0.9, seed=0)[0]) == 1
    trainer = _small_trainer(None, steps=40, validation=0.25)
    seen = np.concatenate([trainer.batch_samples(s) for s in range(40)])
    assert set(seen) == set(trainer.train_samples) and not set(seen) & set(trainer.validation_samples)
    from pasta_core.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="validation share"):
        _small_trainer(None, validation=1.0)
    with pytest.raises(InvalidValueError, match="validate_every must be >= 1"):
        _small_trainer(None, validation=0.25, validate_every=0)


def test_early_stopping_ends_with_the_state_of_the_lowest_validation_nll(tmp_path):
    """At a learning rate that over-fits 15 samples, the held-back samples' NLL rises again
    after its low: the trainer ends with the weights and prior measured there."""
    trainer = _small_trainer(tmp_path, steps=60, validation=0.25, validate_every=10)  # every one logged
    trainer.config.lr = 0.05
    trainer.optimizer = trainer._make_optimizer()
    trainer.train(progress=False)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    measured = {r["step"]: r["validation_nll"] for r in records if "validation_nll" in r}
    best_step = min(measured, key=measured.get)
    assert trainer.best.step == best_step < 60, measured
    assert trainer.marginal_nll(samples=trainer.validation_samples) == pytest.approx(measured[best_step], rel=1e-5)
    assert np.allclose(trainer.prior_array, (trainer.best.prior / trainer.best.prior.sum()).numpy())


def _over_fitting_trainer(out):
    """16 steps at a learning rate whose held-back NLL is lowest at step 10, then rises."""
    trainer = _small_trainer(out, steps=16, validation=0.25, validate_every=2)
    trainer.config.lr = 0.05
    trainer.optimizer = trainer._make_optimizer()
    return trainer


def test_a_stopped_early_stopping_run_resumes_to_the_same_weights(tmp_path):
    """The best state lies before the resumed step (10 < 12), so the resumed run ends with
    the snapshot read from the trainer state, not with weights it trained itself."""
    full = _over_fitting_trainer(tmp_path / "full")
    full.train(progress=False)
    assert full.best.step == 10
    first = _over_fitting_trainer(tmp_path / "cut")
    first.train(progress=False, stop_after=14)  # killed after step 14; last save at step 12
    second = _over_fitting_trainer(tmp_path / "cut")
    assert second.resume() and second.step_count == 12 and second.best.step == 10
    second.train(progress=False)
    assert second.best.step == full.best.step
    for a, b in zip(full.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert np.allclose(full.prior_array, second.prior_array)
