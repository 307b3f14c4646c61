"""Evaluation of a user model on held-out labels.

- Pick-a-Pic accuracy with ties, exactly as PickScore defines it: a label is a tie when
  it is 0.5/0.5; the model predicts a tie when |p_a - p_b| <= t for p = the softmax of the
  two scores; a match scores 1, a tie on either side (not both) 0.5, else 0; t is chosen on
  validation raters. Each rater's posterior comes from half of their labels, accuracy is
  measured on the other half (``half_split``).
- HPS v2: Spearman correlation between scores and human ranks per prompt, per user type,
  averaged over the posterior (the prior when nothing is known of the rater).
- Multi-turn: choice accuracy (the most likely column under the posterior from the earlier
  turns of the same session) and cross-turn accuracy (did the session get better or worse,
  on turns whose comparison label is known).

The functions that need the model's column aggregator take it as ``aggregator`` (built by
the caller: ``model.config.build_aggregator(plugins)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pasta_clip_em.labels import LabelKind, LabelSet
from pasta_clip_em.losses import LossWeights, make_batch, sample_loglik
from pasta_core.errors import InvalidValueError


def _kind(labels: LabelSet, name: str) -> LabelKind:
    kind = getattr(labels, name)
    if kind is None:
        raise InvalidValueError(f"this evaluation needs {name} labels, and the data has none")
    return kind


def sample_posteriors(model: Any, prior: np.ndarray, labels: LabelSet, batch_size: int = 256,
                      weights: LossWeights | None = None, *, aggregator: Any) -> np.ndarray:
    """P(type | all labels of the sample) for every sample: (S, K)."""
    weights = weights or LossWeights()
    device = next(model.parameters()).device
    log_prior = torch.as_tensor(np.log(np.maximum(prior, 1e-12)), dtype=torch.float32, device=device)
    out = []
    with torch.no_grad():
        for start in range(0, labels.num_samples, batch_size):
            samples = np.arange(start, min(start + batch_size, labels.num_samples))
            ll = sample_loglik(model, aggregator, make_batch(labels, samples, device), weights)
            out.append((ll + log_prior).softmax(-1).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(prior)))


def pair_probabilities(model: Any, labels: LabelSet, posteriors: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """P(a preferred) per pair label, mixed over its sample's posterior: (n,)."""
    pairs = _kind(labels, "pairs")
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(pairs), chunk):
            rows = slice(start, start + chunk)
            c = {k: v[rows] for k, v in pairs.columns.items()}
            t = model.text(torch.as_tensor(np.asarray(labels.text[c["prompt"]]), device=device))
            a = model.image(torch.as_tensor(np.asarray(labels.images[c["a"]]), device=device))
            b = model.image(torch.as_tensor(np.asarray(labels.images[c["b"]]), device=device))
            p = torch.sigmoid(model.score_scale * (t * (a - b)).sum(-1)).double().cpu().numpy()
            out.append((p * posteriors[pairs.sample[rows]]).sum(-1))
    return np.concatenate(out) if out else np.zeros(0)


def pickscore_accuracy(p_a: np.ndarray, target: np.ndarray, threshold: float = 0.0) -> float:
    """PickScore's accuracy with ties (see the module docstring)."""
    p_a, target = np.asarray(p_a, float), np.asarray(target, float)
    if len(p_a) == 0:
        return float("nan")
    label_tie = target == 0.5
    pred_tie = np.abs(2 * p_a - 1) <= threshold
    same = np.where(label_tie | pred_tie, label_tie & pred_tie, (p_a > 0.5) == (target > 0.5))
    score = np.where(same, 1.0, np.where(label_tie | pred_tie, 0.5, 0.0))
    return float(score.mean())


def choose_threshold(p_a: np.ndarray, target: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The tie threshold that maximizes :func:`pickscore_accuracy` on validation labels."""
    grid = np.linspace(0, 0.5, 51) if grid is None else grid
    accuracies = [pickscore_accuracy(p_a, target, t) for t in grid]
    return float(grid[int(np.argmax(accuracies))])


def half_split(labels: LabelSet, seed: int = 0) -> tuple[LabelSet, LabelSet]:
    """Split every sample's pair labels in two halves: (context, held out)."""
    pairs = _kind(labels, "pairs")
    rng = np.random.default_rng(seed)
    context = np.zeros(len(pairs), dtype=np.bool_)
    for s in range(labels.num_samples):
        rows = np.arange(pairs.offsets[s], pairs.offsets[s + 1])
        context[rng.permutation(rows)[: len(rows) // 2]] = True
    make = lambda m: LabelSet(labels.text, labels.images, labels.sample_names, pairs=pairs.subset(np.flatnonzero(m)))  # noqa: E731
    return make(context), make(~context)


def evaluate_pairs(model: Any, prior: np.ndarray, labels: LabelSet, validation_share: float = 0.2,
                   seed: int = 0, *, aggregator: Any) -> dict[str, Any]:
    """Half/half Pick-a-Pic protocol; the tie threshold is chosen on a share of the raters."""
    context, held_out = half_split(labels, seed)
    posteriors = sample_posteriors(model, prior, context, aggregator=aggregator)
    p_a = pair_probabilities(model, held_out, posteriors)
    held_pairs = _kind(held_out, "pairs")
    target = held_pairs.columns["target"]
    validation = np.random.default_rng(seed).random(labels.num_samples) < validation_share
    is_val = validation[held_pairs.sample]
    threshold = choose_threshold(p_a[is_val], target[is_val]) if is_val.any() else 0.0
    prior_p = pair_probabilities(model, held_out, np.tile(prior, (labels.num_samples, 1)))
    return {
        "accuracy": pickscore_accuracy(p_a[~is_val], target[~is_val], threshold),
        "accuracy_prior_only": pickscore_accuracy(prior_p[~is_val], target[~is_val], threshold),
        "tie_threshold": threshold,
        "pairs": int((~is_val).sum()),
        "raters": int(labels.num_samples),
    }


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else 0.0


def evaluate_rankings(user_model: Any, groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                      posterior: np.ndarray | None = None) -> dict[str, Any]:
    """HPS v2 test: ``groups`` of (prompt embedding, image embeddings, ranks; 1 = best).
    Spearman per type between scores and -rank, averaged over ``posterior`` (default prior)."""
    weights = user_model.prior if posterior is None else posterior
    per_type = np.zeros(user_model.num_types)
    for text, images, ranks in groups:
        scores = user_model.scores_from_embeddings(text, images)
        per_type += [spearman(row, -np.asarray(ranks, float)) for row in scores]
    per_type /= max(len(groups), 1)
    return {"spearman": float(weights @ per_type), "spearman_per_type": per_type.round(4).tolist(),
            "prompts": len(groups)}


def evaluate_turns(model: Any, prior: np.ndarray, labels: LabelSet, *, aggregator: Any) -> dict[str, Any]:
    """Choice and cross-turn accuracy on multi-turn labels, with online posteriors."""
    turns = _kind(labels, "turns")
    batch = make_batch(labels, np.arange(labels.num_samples), next(model.parameters()).device)
    lab = batch.labels["turns"]
    with torch.no_grad():
        t, i = model.text(batch.text), model.image(batch.images)
        scores = model.score_scale * torch.einsum("nkd,nlmkd->nklm", t[lab["prompt"]], i[lab["images"]])
        mask = lab["columns"].unsqueeze(1)
        log_probs = model.choice_log_probs(aggregator(scores), mask).double().cpu().numpy()
        best = scores.amax(-1).double().cpu().numpy()  # (n, K, L)
    chosen, sample = turns.columns["chosen"], turns.sample
    comparison = turns.columns["comparison"]
    log_post = np.log(np.maximum(prior, 1e-12))
    hits, cross_hits, cross_n = [], [], 0
    for n in range(len(sample)):
        if n == 0 or sample[n] != sample[n - 1]:
            log_post = np.log(np.maximum(prior, 1e-12))
        post = np.exp(log_post - log_post.max())
        post /= post.sum()
        hits.append(int(np.argmax(post @ np.exp(log_probs[n])) == chosen[n]))
        if n > 0 and sample[n] == sample[n - 1] and comparison[n] in (-1.0, 1.0):
            diff = post @ (best[n, :, chosen[n]] - best[n - 1, :, chosen[n - 1]])
            cross_hits.append(int(np.sign(diff) == comparison[n]))
            cross_n += 1
        log_post = log_post + log_probs[n, :, chosen[n]]
    return {"choice_accuracy": float(np.mean(hits)) if hits else float("nan"),
            "cross_turn_accuracy": float(np.mean(cross_hits)) if cross_hits else float("nan"),
            "turns": len(hits), "cross_turn_pairs": cross_n}
