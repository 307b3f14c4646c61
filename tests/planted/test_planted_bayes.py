"""The EM yardstick: the Bayes-optimal reference against brute force, and the EM figures.

On a tiny world (3 types, 2 columns, 3 turns) every predictor of the next choice from the
earlier ones can be enumerated: the bench's Bayes-optimal reference must reach the best
expected accuracy of all of them, and its expected hits must average to its accuracy.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pasta_planted.bench_em import (
    bayes_predictions,
    bootstrap_sessions,
    em_figures,
    hit_probabilities,
    table_figures,
)
from pasta_planted.config import parse_config
from pasta_planted.world import PlantedWorld

TURNS, COLUMNS = 3, 2


@pytest.fixture(scope="module")
def tiny() -> tuple[PlantedWorld, list[np.ndarray]]:
    world = PlantedWorld(parse_config({"world": {"seed": 1, "types": 3, "choice_temperature": 0.5,
                                                 "prior": [3, 2, 1]}}))
    rng = np.random.default_rng(4)
    utilities = [rng.normal(size=(3, COLUMNS)) for _ in range(TURNS)]
    return world, utilities


def sequences() -> list[tuple[int, ...]]:
    return list(itertools.product(range(COLUMNS), repeat=TURNS))


def sequence_probability(world: PlantedWorld, utilities: list[np.ndarray], seq: tuple[int, ...], k: int) -> float:
    return float(np.prod([world.choice_probabilities(u)[k][c] for u, c in zip(utilities, seq)]))


def expected_accuracy(world: PlantedWorld, utilities: list[np.ndarray], predict) -> float:
    """E over type (prior) and choice sequence of the share of turns predicted right;
    ``predict(prefix)`` sees only the earlier choices."""
    total = 0.0
    for k, p in enumerate(world.prior):
        for seq in sequences():
            hits = np.mean([predict(seq[:t]) == seq[t] for t in range(TURNS)])
            total += p * sequence_probability(world, utilities, seq, k) * hits
    return total


def test_bayes_reference_is_the_best_of_all_predictors(tiny) -> None:
    """Brute force over every deterministic predictor (a column for every prefix of
    earlier choices: 2^(1+2+4) of them): none beats the reference, and the best equals it."""
    world, utilities = tiny
    prefixes = [p for t in range(TURNS) for p in itertools.product(range(COLUMNS), repeat=t)]

    def reference(prefix: tuple[int, ...]) -> int:
        padded = list(prefix) + [0]  # the prediction of turn len(prefix) uses the earlier turns only
        return bayes_predictions(world, utilities[: len(padded)], padded)[-1]

    best = max(expected_accuracy(world, utilities, dict(zip(prefixes, table)).__getitem__)
               for table in itertools.product(range(COLUMNS), repeat=len(prefixes)))
    ours = expected_accuracy(world, utilities, reference)
    assert ours == pytest.approx(best, abs=1e-12)
    prior_only = expected_accuracy(world, utilities, lambda prefix: int(np.argmax(
        world.prior @ world.choice_probabilities(utilities[len(prefix)]))))
    assert prior_only <= ours + 1e-12


def test_expected_hits_average_to_the_accuracy(tiny) -> None:
    """The expected hit of a prediction (the chance that the true type picks it) has the
    realised hit's mean: summed over every type and sequence, both give the same accuracy."""
    world, utilities = tiny
    realised = expected_hits = 0.0
    for k, p in enumerate(world.prior):
        for seq in sequences():
            weight = p * sequence_probability(world, utilities, seq, k)
            predictions = bayes_predictions(world, utilities, seq)
            realised += weight * np.mean(np.asarray(predictions) == seq)
            expected_hits += weight * hit_probabilities(world, utilities, predictions, k).mean()
    assert expected_hits == pytest.approx(realised, abs=1e-12)


def test_em_figures_and_their_bootstrap() -> None:
    """The gap share is (acc - chance) / (Bayes - chance): chance-level learning scores 0,
    Bayes-level 1, where the plain ratio gives chance a high score; the session bootstrap
    brackets the point figure."""
    rng = np.random.default_rng(0)
    n = 400
    turns = np.full(n, 5.0)
    chance = turns / 4
    bayes = turns * 0.30 + rng.normal(0, 0.2, n)
    table = {"turns": turns, "chance": chance, "bayes_expected": bayes, "true_type_expected": bayes,
             "learned_expected": chance.copy(), "learned_hits": chance, "bayes_hits": bayes}
    at_chance = table_figures(table)
    assert at_chance["gap_share"] == pytest.approx(0.0) and at_chance["ratio"] > 0.8
    table["learned_expected"] = bayes.copy()
    assert table_figures(table)["gap_share"] == pytest.approx(1.0)
    table["learned_expected"] = (chance + bayes) / 2
    figures, ci = table_figures(table), bootstrap_sessions(table)
    assert figures["gap_share"] == pytest.approx(0.5)
    assert ci["gap_share"][0] < 0.5 < ci["gap_share"][1]
    vector = em_figures({k: np.stack([v.sum(), v.sum()]) for k, v in table.items()})
    assert np.allclose(vector["gap_share"], 0.5)


@pytest.mark.slow
def test_learned_predictions_follow_the_clip_em_protocol() -> None:
    """The bench's per-turn learned predictions give the accuracy of
    pasta_clip_em.evaluate.evaluate_turns, and the session table adds up."""
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.evaluate import evaluate_turns
    from pasta_clip_em.model import build_model
    from pasta_core.config import EpisodeConfig
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench_data import build_labels, collect_sessions
    from pasta_planted.bench_em import learned_predictions, session_table
    from pasta_procedural import ProceduralT2I

    plugins = get_plugins()
    world = PlantedWorld(parse_config({"world": {"seed": 2, "types": 3, "choice_temperature": 0.3}}), plugins)
    encoder = plugins.create("encoder", "embedded", dim=16, seed=0)
    data = collect_sessions(world, 12, 5, encoder, ProceduralT2I(size=64),
                            EpisodeConfig(turns=3, slate_size=4, images_per_prompt=2), "t", progress=False,
                            batch_size=6, plugins=plugins)
    labels = build_labels(encoder, data)
    model = build_model(ModelConfig(dim=16, types=3), seed=1).eval()
    prior = np.full(3, 1 / 3)
    predictions = learned_predictions(model, prior, labels, plugins)
    reference = evaluate_turns(model, prior, labels, aggregator=model.config.build_aggregator(plugins))
    chosen = labels.turns.columns["chosen"]
    assert np.mean(predictions == chosen) == pytest.approx(reference["choice_accuracy"])
    table = session_table(world, data, predictions)
    assert table["turns"].sum() == 36 and table["learned_hits"].sum() == (predictions == chosen).sum()
    assert np.all(table["bayes_expected"] <= table["true_type_expected"] + 1e-12)
