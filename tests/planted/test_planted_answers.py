"""The planted raters' answer likelihood (used for the Bayes-optimal reference) is the
distribution the raters really sample from."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from pasta_planted.bench_em import planted_answer_loglik
from pasta_planted.episodes import comparison_answer, satisfaction_scores
from pasta_planted.world import PlantedWorld


def test_satisfaction_likelihood_matches_the_sampled_scores():
    world = PlantedWorld()
    u = np.linspace(-1.5, 1.5, world.num_types)[:, None]  # one column, a utility per type
    probs = np.array([[np.exp(planted_answer_loglik(world, SimpleNamespace(choice=0, satisfaction=(s,), comparison=None),
                                                    u, None))[k] for s in range(1, 6)] for k in range(world.num_types)])
    assert np.allclose(probs.sum(axis=1), 1.0)
    rng = np.random.default_rng(0)
    for k in (0, world.num_types // 2, world.num_types - 1):
        draws = np.array([satisfaction_scores(world, u[k], rng)[0] for _ in range(4000)])
        empirical = np.bincount(draws, minlength=6)[1:] / len(draws)
        assert np.abs(empirical - probs[k]).max() < 0.03, (k, empirical, probs[k])


def test_comparison_likelihood_matches_the_sampled_answers():
    world = PlantedWorld()
    u = np.linspace(-0.4, 0.4, world.num_types)[:, None]
    previous = np.zeros(world.num_types)
    probs = {a: np.exp(planted_answer_loglik(world, SimpleNamespace(choice=0, satisfaction=None, comparison=a), u, previous))
             for a in ("better", "same", "worse")}
    assert np.allclose(sum(probs.values()), 1.0)
    rng = np.random.default_rng(1)
    for k in (1, world.num_types - 2):
        draws = [comparison_answer(world, float(u[k, 0]), 0.0, rng) for _ in range(4000)]
        for answer, p in probs.items():
            assert abs(draws.count(answer) / len(draws) - p[k]) < 0.03, (answer, k)
