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
             plugins: Any, encoder: tuple[str, dict[str, Any]] = ("embedded", {})) -> dict[str, Any]:
    """Train a clip-em model with K = K* types (its aggregator from ``plugins``; its
    checkpoint names ``encoder``, the (name, options) the labels were embedded with);
    returns the model, prior and timings."""
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.em import EMTrainer
    from pasta_clip_em.model import build_model

    name, options = encoder
    config = ModelConfig(dim=labels.dim, types=world.num_types, hidden=sizes.em_hidden,
                         score_scale=sizes.em_score_scale, encoder=name,
                         encoder_options={"dim": labels.dim, **options}, satisfaction=sizes.em_satisfaction)
    model = build_model(config, seed)
    started = time.perf_counter()
    trainer = EMTrainer(model, labels, em_train_config(sizes, seed), out=None,
                        aggregator=config.build_aggregator(plugins))
    trainer.train(progress=progress)
    seconds = time.perf_counter() - started
    check_finite(trainer.model, trainer.prior_array)
    save_checkpoint(out, trainer.model, trainer.prior_array, trained_steps=trainer.step_count)
    return {"model": trainer.model.eval(), "prior": trainer.prior_array, "seconds": seconds, "path": out,
            "splits": [list(s) for s in trainer.splits],
            "best_step": trainer.best.step if trainer.best is not None else trainer.step_count}


def em_train_config(sizes: Any, seed: int) -> Any:
    """The EM settings of the bench's user-model stage (``[bench] em_*``)."""
    from pasta_clip_em.em import TrainConfig

    return TrainConfig(steps=sizes.em_steps, batch_size=sizes.em_batch, lr=sizes.em_lr,
                       weight_decay=sizes.em_weight_decay, seed=seed, save_every=10**9, target_every=25,
                       split_every=50, validation=sizes.em_validation, validate_every=sizes.em_validate_every)


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


def bayes_predictions(world: PlantedWorld, utilities: Any, choices: Any) -> list[int]:
    """The Bayes-optimal prediction of each turn's choice from the earlier turns' choices:
    the argmax of the planted choice probabilities mixed over the planted posterior (prior
    times the likelihood of the earlier choices). ``utilities``: per turn (K, L)."""
    log_post = np.log(world.prior)
    out = []
    for u, choice in zip(utilities, choices):
        probs = world.choice_probabilities(u)  # (K, L)
        post = np.exp(log_post - log_post.max())
        out.append(int(np.argmax((post / post.sum()) @ probs)))
        log_post = log_post + np.log(np.maximum(probs[:, choice], 1e-300))
    return out


def hit_probabilities(world: PlantedWorld, utilities: Any, predictions: Any, user_type: int) -> np.ndarray:
    """P(the user of type ``user_type`` chooses the predicted column), per turn: the
    expected hit of a prediction made before the choice (same mean as the realised hit,
    without the choice's own noise)."""
    return np.array([world.choice_probabilities(u)[user_type][p] for u, p in zip(utilities, predictions)])


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


def learned_predictions(model: Any, prior: np.ndarray, labels: Any, plugins: Any) -> np.ndarray:
    """The learned model's prediction of every turn label's choice (the most likely column
    under its posterior from the session's earlier choices: the clip-em protocol of
    :func:`pasta_clip_em.evaluate.evaluate_turns`), in label order."""
    import torch

    from pasta_clip_em.losses import make_batch

    aggregator = model.config.build_aggregator(plugins)
    batch = make_batch(labels, np.arange(labels.num_samples), next(model.parameters()).device)
    lab = batch.labels["turns"]
    with torch.no_grad():
        t, i = model.text(batch.text), model.image(batch.images)
        scores = model.score_scale * torch.einsum("nkd,nlmkd->nklm", t[lab["prompt"]], i[lab["images"]])
        log_probs = model.choice_log_probs(aggregator(scores), lab["columns"].unsqueeze(1)).double().cpu().numpy()
    chosen, sample = labels.turns.columns["chosen"], labels.turns.sample
    out = np.zeros(len(sample), dtype=np.int64)
    log_post = np.log(np.maximum(prior, 1e-12))
    for n in range(len(sample)):
        if n == 0 or sample[n] != sample[n - 1]:
            log_post = np.log(np.maximum(prior, 1e-12))
        post = np.exp(log_post - log_post.max())
        out[n] = int(np.argmax((post / post.sum()) @ np.exp(log_probs[n])))
        log_post = log_post + log_probs[n, :, chosen[n]]
    return out


def session_table(world: PlantedWorld, test: HumanData, predictions: np.ndarray) -> dict[str, np.ndarray]:
    """Per held-out session: turns, the learned and the Bayes-optimal predictions' hits
    (realised, and expected under the true type), the true-type predictor's expected hits
    and chance (sum over the session's turns of 1 / columns)."""
    rows: dict[str, list[float]] = {k: [] for k in ("turns", "learned_hits", "bayes_hits", "learned_expected",
                                                      "bayes_expected", "true_type_expected", "chance")}
    cursor = 0
    for t, utilities, k in zip(test.trajectories, test.utilities, test.types):
        choices = [turn.choice for turn in t.turns]
        n = len(choices)
        learned = predictions[cursor:cursor + n]
        cursor += n
        bayes = bayes_predictions(world, utilities, choices)
        rows["turns"].append(n)
        rows["learned_hits"].append(float(np.sum(np.asarray(learned) == choices)))
        rows["bayes_hits"].append(float(np.sum(np.asarray(bayes) == choices)))
        rows["learned_expected"].append(float(hit_probabilities(world, utilities, learned, k).sum()))
        rows["bayes_expected"].append(float(hit_probabilities(world, utilities, bayes, k).sum()))
        rows["true_type_expected"].append(float(sum(world.choice_probabilities(u)[k].max() for u in utilities)))
        rows["chance"].append(float(sum(1.0 / u.shape[1] for u in utilities)))
    if cursor != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {cursor} held-out turns")
    return {key: np.asarray(v) for key, v in rows.items()}


def em_figures(totals: dict[str, Any]) -> dict[str, Any]:
    """Accuracies and the two EM figures from a session table's column sums (numbers, or
    arrays of resampled sums): the plain ratio (learned / Bayes-optimal) and the share of
    the chance-to-Bayes gap closed, (learned - chance) / (Bayes - chance), both on
    expected hits."""
    n = np.asarray(totals["turns"], dtype=np.float64)
    learned, bayes, chance = (np.asarray(totals[k], dtype=np.float64) / n
                              for k in ("learned_expected", "bayes_expected", "chance"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bayes > 0, learned / bayes, np.nan)
        share = np.where(bayes > chance, (learned - chance) / (bayes - chance), np.nan)
    out = {"accuracy": learned, "bayes": bayes, "chance": chance, "ratio": ratio, "gap_share": share}
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}


def table_figures(table: dict[str, np.ndarray]) -> dict[str, float]:
    """:func:`em_figures` of a whole session table."""
    return em_figures({k: v.sum() for k, v in table.items()})


def bootstrap_sessions(table: dict[str, np.ndarray], resamples: int = 2000, seed: int = 0) -> dict[str, list[float]]:
    """95% percentile intervals of :func:`em_figures` over sessions resampled with
    replacement (a session's turns stay together)."""
    n = len(table["turns"])
    draws = np.random.default_rng(seed).integers(n, size=(resamples, n))
    figures = em_figures({k: v[draws].sum(axis=1) for k, v in table.items()})
    return {k: [float(x) for x in np.nanpercentile(np.asarray(v), [2.5, 97.5])] for k, v in figures.items()}


def evaluate_em(model: Any, prior: np.ndarray, world: PlantedWorld, test: HumanData, test_labels: Any,
                plugins: Any) -> dict[str, Any]:
    """Held-out choice accuracy and adjusted Rand index (see the module docstring); the
    model's aggregator comes from ``plugins``."""
    from pasta_clip_em.evaluate import sample_posteriors

    aggregator = model.config.build_aggregator(plugins)
    table = session_table(world, test, learned_predictions(model, prior, test_labels, plugins))
    figures, intervals = table_figures(table), bootstrap_sessions(table)
    n = int(table["turns"].sum())
    accuracy, bayes = float(table["learned_hits"].sum() / n), float(table["bayes_hits"].sum() / n)
    realised = {"turns": table["turns"], "learned_expected": table["learned_hits"],
                "bayes_expected": table["bayes_hits"], "chance": table["chance"]}
    realised_ci = bootstrap_sessions(realised)
    learned_all = learned_online_accuracy_all_answers(model, prior, test_labels, plugins)
    planted_all = planted_online_accuracy(world, test, answers="all")["bayes_accuracy"]
    posteriors = sample_posteriors(model, prior, test_labels, aggregator=aggregator)
    ari = adjusted_rand_index(posteriors.argmax(1), test.types)
    ari_planted = adjusted_rand_index(planted_posterior_types(world, test), test.types)
    ratio = accuracy / bayes if bayes else float("nan")
    return {
        "choice_accuracy": accuracy,
        "choice_accuracy_ci95": realised_ci["accuracy"],
        "bayes_optimal_accuracy": bayes,
        "true_type_accuracy": float(table["true_type_expected"].sum() / n),
        "accuracy_ratio": ratio,
        "accuracy_ratio_ci95": realised_ci["ratio"],
        "expected": {"choice_accuracy": figures["accuracy"], "bayes_optimal_accuracy": figures["bayes"],
                     "chance": figures["chance"], "accuracy_ratio": figures["ratio"],
                     "accuracy_ratio_ci95": intervals["ratio"], "gap_share": figures["gap_share"],
                     "gap_share_ci95": intervals["gap_share"]},
        "gap_share": figures["gap_share"],
        "gap_share_ci95": intervals["gap_share"],
        "sessions": {k: v.round(6).tolist() for k, v in table.items()},
        "all_answers": {"choice_accuracy": learned_all, "bayes_optimal_accuracy": planted_all,
                        "accuracy_ratio": learned_all / planted_all if planted_all else float("nan")},
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
