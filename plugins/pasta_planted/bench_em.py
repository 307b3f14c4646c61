"""Bench stage 2: train the clip-em user model by EM on human-like data and grade it
against the planted truth.

- Held-out choice accuracy: on held-out sessions, each turn's choice is predicted as the
  most likely column under the posterior from the session's earlier turns (the clip-em
  evaluation). The *Bayes-optimal* accuracy applies the same protocol to the planted model
  itself (its true utilities, its prior, its posterior from the same earlier turns): no
  predictor with the same information can do better in expectation. The accuracy with the
  true type known is reported beside it as an upper bound.
- The same accuracy with the posterior from *all* the rater's answers of the earlier turns
  (choice, 1-5 satisfaction per column, better/same/worse), for the learned model (its
  choice, satisfaction and cross-turn likelihoods) and for the planted model (the exact
  likelihood of its noisy raters). Both sides get the same information in either protocol.
- Adjusted Rand index between each held-out session's most likely learned type (posterior
  from all its turns) and its planted type; the planted model's own posterior gives the
  reference (how identifiable the types are from one session).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pasta_planted.bench_common import proportion_ci
from pasta_planted.bench_data import HumanData
from pasta_planted.world import PlantedWorld


def adjusted_rand_index(a: Any, b: Any) -> float:
    """Adjusted Rand index of two labellings (Hubert and Arabie)."""
    a, b = np.asarray(a), np.asarray(b)
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    pairs = lambda x: (x * (x - 1) / 2).sum()  # noqa: E731
    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / max(pairs(np.array([len(a)])), 1)
    top = (rows + cols) / 2
    return float((index - expected) / (top - expected)) if top != expected else 1.0


def train_em(labels: Any, world: PlantedWorld, sizes: Any, out: Path, seed: int, progress: bool,
             plugins: Any) -> dict[str, Any]:
    """Train a clip-em model with K = K* types (its aggregator from ``plugins``); returns
    the model, prior and timings."""
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.em import EMTrainer, TrainConfig
    from pasta_clip_em.model import build_model

    config = ModelConfig(dim=labels.dim, types=world.num_types, encoder="embedded",
                         encoder_options={"dim": labels.dim, "seed": seed}, satisfaction=sizes.em_satisfaction)
    model = build_model(config, seed)
    started = time.perf_counter()
    trainer = EMTrainer(model, labels, TrainConfig(steps=sizes.em_steps, batch_size=64, lr=1e-3, seed=seed,
                                                   save_every=10**9, target_every=25, split_every=50), out=None,
                        aggregator=config.build_aggregator(plugins))
    trainer.train(progress=progress)
    seconds = time.perf_counter() - started
    check_finite(trainer.model, trainer.prior_array)
    save_checkpoint(out, trainer.model, trainer.prior_array, trained_steps=trainer.step_count)
    return {"model": trainer.model.eval(), "prior": trainer.prior_array, "seconds": seconds, "path": out,
            "splits": [list(s) for s in trainer.splits]}


def check_finite(model: Any, prior: np.ndarray) -> None:
    """Raise ``FloatingPointError`` naming the tensors of a diverged model (a NaN or
    infinite weight or prior): such a model must fail the stage, not be scored."""
    bad = [name for name, value in model.state_dict().items() if not bool(value.isfinite().all())]
    if not np.isfinite(prior).all():
        bad.append("prior")
    if bad:
        raise FloatingPointError(f"EM diverged: non-finite {', '.join(bad[:6])}" + (" ..." if len(bad) > 6 else ""))


def log_ndtr(x: Any) -> np.ndarray:
    """log Phi(x) of the standard normal, elementwise and stable in the tails (torch's
    kernel: torch is already a dependency of the bench, scipy is not declared)."""
    import torch

    return torch.special.log_ndtr(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()


def _interval_log_prob(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """log(Phi(high) - Phi(low)), elementwise, for standard-normal bounds (the clip-em
    ordinal likelihood's kernel, on float64 arrays)."""
    import torch

    from pasta_clip_em.losses import interval_log_prob

    as_tensor = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float64))  # noqa: E731
    return interval_log_prob(as_tensor(low), as_tensor(high)).numpy()


def planted_answer_loglik(world: PlantedWorld, turn: Any, u: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """log P(a turn's rater answers | type) under the planted raters, for every type: (K,).

    Answers: the choice (softmax), each column's 1-5 satisfaction (utility plus Gaussian
    noise, cut at the world's cut points) and, after the first turn, the comparison of the
    chosen column with the previous turn's (``previous``: (K,) its utility per type)."""
    raters = world.config.raters
    ll = np.log(np.maximum(world.choice_probabilities(u)[:, turn.choice], 1e-300))
    if turn.satisfaction:
        cuts = np.concatenate([[-np.inf], raters.satisfaction_cuts, [np.inf]])
        s = np.asarray(turn.satisfaction)
        sigma = raters.satisfaction_noise
        ll = ll + _interval_log_prob((cuts[s - 1] - u) / sigma, (cuts[s] - u) / sigma).sum(axis=1)
    if previous is not None and turn.comparison in ("better", "same", "worse"):
        change = u[:, turn.choice] - previous
        m, sigma = raters.comparison_margin, raters.comparison_noise
        if turn.comparison == "better":
            ll = ll + log_ndtr((change - m) / sigma)
        elif turn.comparison == "worse":
            ll = ll + log_ndtr((-m - change) / sigma)
        else:
            ll = ll + _interval_log_prob((-m - change) / sigma, (m - change) / sigma)
    return ll


def planted_online_accuracy(world: PlantedWorld, data: HumanData, answers: str = "choice") -> dict[str, float]:
    """The planted model's own choice accuracy: online posterior (from the earlier turns'
    choices, or from all their answers with ``answers="all"``), and true type known."""
    hits, oracle_hits = [], []
    for t, utilities, k in zip(data.trajectories, data.utilities, data.types):
        log_post = np.log(world.prior)
        previous = None
        for turn, u in zip(t.turns, utilities):
            probs = world.choice_probabilities(u)  # (K, L)
            post = np.exp(log_post - log_post.max())
            post /= post.sum()
            hits.append(int(np.argmax(post @ probs)) == turn.choice)
            oracle_hits.append(int(np.argmax(probs[k])) == turn.choice)
            if answers == "all":
                log_post = log_post + planted_answer_loglik(world, turn, u, previous)
            else:
                log_post = log_post + np.log(np.maximum(probs[:, turn.choice], 1e-300))
            previous = u[:, turn.choice]
    return {"bayes_accuracy": float(np.mean(hits)), "true_type_accuracy": float(np.mean(oracle_hits))}


def learned_online_accuracy_all_answers(model: Any, prior: np.ndarray, labels: Any, plugins: Any) -> float:
    """The learned model's choice accuracy with the posterior from all answers of the
    earlier turns (its choice, satisfaction and cross-turn likelihoods; the in-turn
    Bradley-Terry term is a training device, not an answer, and is left out)."""
    import torch

    from pasta_clip_em.losses import LossWeights, make_batch, turn_loglik

    batch = make_batch(labels, np.arange(labels.num_samples), next(model.parameters()).device)
    lab = batch.labels["turns"]
    aggregator = model.config.build_aggregator(plugins)
    with torch.no_grad():
        t, i = model.text(batch.text), model.image(batch.images)
        answers = turn_loglik(model, aggregator, t, i, lab, LossWeights(in_turn=0.0)).double().cpu().numpy()
        scores = model.score_scale * torch.einsum("nkd,nlmkd->nklm", t[lab["prompt"]], i[lab["images"]])
        probs = model.choice_log_probs(aggregator(scores), lab["columns"].unsqueeze(1)).exp().double().cpu().numpy()
    chosen, sample = labels.turns.columns["chosen"], labels.turns.sample
    hits = []
    log_post = np.log(np.maximum(prior, 1e-12))
    for n in range(len(sample)):
        if n == 0 or sample[n] != sample[n - 1]:
            log_post = np.log(np.maximum(prior, 1e-12))
        post = np.exp(log_post - log_post.max())
        hits.append(int(np.argmax((post / post.sum()) @ probs[n])) == chosen[n])
        log_post = log_post + answers[n]
    return float(np.mean(hits)) if hits else float("nan")


def planted_posterior_types(world: PlantedWorld, data: HumanData) -> np.ndarray:
    """The planted model's most likely type of each session from all its turns."""
    out = []
    for t, utilities in zip(data.trajectories, data.utilities):
        log_post = np.log(world.prior)
        for turn, u in zip(t.turns, utilities):
            log_post = log_post + np.log(np.maximum(world.choice_probabilities(u)[:, turn.choice], 1e-300))
        out.append(int(np.argmax(log_post)))
    return np.array(out)


def evaluate_em(model: Any, prior: np.ndarray, world: PlantedWorld, test: HumanData, test_labels: Any,
                plugins: Any) -> dict[str, Any]:
    """Held-out choice accuracy and adjusted Rand index (see the module docstring); the
    model's aggregator comes from ``plugins``."""
    from pasta_clip_em.evaluate import evaluate_turns, sample_posteriors

    aggregator = model.config.build_aggregator(plugins)
    learned = evaluate_turns(model, prior, test_labels, aggregator=aggregator)
    planted = planted_online_accuracy(world, test)
    learned_all = learned_online_accuracy_all_answers(model, prior, test_labels, plugins)
    planted_all = planted_online_accuracy(world, test, answers="all")["bayes_accuracy"]
    posteriors = sample_posteriors(model, prior, test_labels, aggregator=aggregator)
    ari = adjusted_rand_index(posteriors.argmax(1), test.types)
    ari_planted = adjusted_rand_index(planted_posterior_types(world, test), test.types)
    ratio = learned["choice_accuracy"] / planted["bayes_accuracy"] if planted["bayes_accuracy"] else float("nan")
    n = learned["turns"]
    return {
        "choice_accuracy": learned["choice_accuracy"],
        "choice_accuracy_ci95": proportion_ci(learned["choice_accuracy"], n),
        "bayes_optimal_accuracy": planted["bayes_accuracy"],
        "true_type_accuracy": planted["true_type_accuracy"],
        "accuracy_ratio": ratio,
        "all_answers": {"choice_accuracy": learned_all, "bayes_optimal_accuracy": planted_all,
                        "accuracy_ratio": learned_all / planted_all if planted_all else float("nan")},
        "cross_turn_accuracy": learned["cross_turn_accuracy"],
        "held_out_turns": n,
        "held_out_sessions": len(test.trajectories),
        "adjusted_rand_index": ari,
        "adjusted_rand_index_planted_posterior": ari_planted,
        "learned_prior": [round(float(p), 4) for p in prior],
    }


def learned_utilities(model: Any, labels: Any, plugins: Any) -> np.ndarray:
    """Learned column utilities of every turn label under every type: (n, K, L)."""
    import torch

    from pasta_clip_em.losses import make_batch

    aggregator = model.config.build_aggregator(plugins)
    batch = make_batch(labels, np.arange(labels.num_samples), next(model.parameters()).device)
    lab = batch.labels["turns"]
    with torch.no_grad():
        t, i = model.text(batch.text), model.image(batch.images)
        scores = model.score_scale * torch.einsum("nkd,nlmkd->nklm", t[lab["prompt"]], i[lab["images"]])
        return aggregator(scores).double().cpu().numpy()
