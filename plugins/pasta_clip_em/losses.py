"""Per-sample, per-type log-likelihoods of a mini-batch of labels.

Everything returns a (B, K) tensor: the log-likelihood of all labels of each of the B
samples of the batch under each of the K user types. The EM trainer turns it into a
posterior (with the target network) and into the posterior-weighted loss (online network).

- pairs (Bradley-Terry, ties as target 0.5): t log sigma(s_a - s_b) + (1 - t) log sigma(s_b - s_a);
- ratings (Gaussian): log N(value; scale * s + bias, sigma^2);
- turns: choice log-probability log softmax(tau(R) R)[chosen]; in-turn BT between the
  best image of the chosen column and the best image of every other column; cross-turn BT
  between the chosen columns' best images of consecutive turns, labelled by the comparison;
  and, where the rater scored the columns 1-5, the likelihood of every scored column's
  score: a Gaussian on the normalized score (s - 3) / 2 ~ N(a R + b, sigma^2), or (model
  option ``satisfaction = "ordinal"``) an ordered probit, P(s = j) = Phi(c_j - a R) -
  Phi(c_{j-1} - a R) with learned cut points c_1 < ... < c_4.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import torch
from torch.nn import functional as F

from pasta_clip_em.labels import LabelSet

#: The ordinal likelihood's outer edges (in latent units, where the noise has spread 1).
OUTER_EDGE = 1e4


@attrs.frozen
class LossWeights:
    """Weights of the likelihood terms (all in log-likelihood units)."""

    pairs: float = 1.0
    ratings: float = 1.0
    choice: float = 1.0
    in_turn: float = 0.5
    cross_turn: float = 0.5
    satisfaction: float = 1.0


@attrs.define
class Batch:
    """A mini-batch on the device: unique prompt/image embeddings and local label indices."""

    num_samples: int
    text: torch.Tensor
    images: torch.Tensor
    labels: dict[str, dict[str, torch.Tensor]]
    num_labels: int


_PROMPT_KEYS = ("prompt",)
_IMAGE_KEYS = ("a", "b", "image", "images")


def gather_batch(
    labels: Any, samples: np.ndarray, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, torch.Tensor]], int]:
    """All labels of ``samples``: (prompt ids, image ids, labels with batch-local prompt
    and image indices into those ids, label count). Works on a LabelSet or RawLabelSet."""
    raw = labels.batch(samples)
    prompt_ids = np.unique(np.concatenate([np.zeros(0, np.int64)] + [k[c].ravel() for k in raw.values() for c in _PROMPT_KEYS if c in k]))
    image_ids = np.unique(np.concatenate([np.zeros(0, np.int64)] + [k[c].ravel() for k in raw.values() for c in _IMAGE_KEYS if c in k]))
    out: dict[str, dict[str, torch.Tensor]] = {}
    count = 0
    for name, kind in raw.items():
        local: dict[str, torch.Tensor] = {}
        for column, values in kind.items():
            if column in _PROMPT_KEYS:
                values = np.searchsorted(prompt_ids, values)
            elif column in _IMAGE_KEYS:
                values = np.searchsorted(image_ids, values)
            local[column] = torch.as_tensor(values, device=device)
        out[name] = local
        count += len(kind["sample"])
    return prompt_ids, image_ids, out, count


def make_batch(labels: LabelSet, samples: np.ndarray, device: str | torch.device = "cpu") -> Batch:
    """Gather all labels of ``samples`` and the embedding rows they use."""
    prompt_ids, image_ids, out, count = gather_batch(labels, samples, device)
    return Batch(
        num_samples=len(samples),
        text=torch.as_tensor(np.asarray(labels.text[prompt_ids], dtype=np.float32), device=device),
        images=torch.as_tensor(np.asarray(labels.images[image_ids], dtype=np.float32), device=device),
        labels=out,
        num_labels=count,
    )


def _bt(diff: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return target * F.logsigmoid(diff) + (1 - target) * F.logsigmoid(-diff)


def _per_sample(values: torch.Tensor, sample: torch.Tensor, num_samples: int) -> torch.Tensor:
    out = values.new_zeros((num_samples, values.shape[-1]))
    return out.index_add(0, sample, values)


def pair_loglik(model: Any, t: torch.Tensor, i: torch.Tensor, lab: dict[str, torch.Tensor]) -> torch.Tensor:
    """(n, K) Bradley-Terry log-likelihood of each pair label."""
    tp = t[lab["prompt"]]
    diff = model.score_scale * (tp * (i[lab["a"]] - i[lab["b"]])).sum(-1)
    return _bt(diff, lab["target"].unsqueeze(-1))


def rating_loglik(model: Any, t: torch.Tensor, i: torch.Tensor, lab: dict[str, torch.Tensor]) -> torch.Tensor:
    """(n, K) Gaussian log-likelihood of each normalized rating."""
    s = model.scores(t[lab["prompt"]], i[lab["image"]])
    mean = model.rating_scale * s + model.rating_bias
    sigma = model.rating_log_sigma.exp()
    z = (lab["value"].unsqueeze(-1) - mean) / sigma
    return -0.5 * z**2 - model.rating_log_sigma - 0.5 * math.log(2 * math.pi)


def turn_loglik(
    model: Any, aggregator: Any, t: torch.Tensor, i: torch.Tensor, lab: dict[str, torch.Tensor], w: LossWeights
) -> torch.Tensor:
    """(n, K) weighted choice + in-turn + cross-turn log-likelihood of each turn label."""
    scores = model.score_scale * torch.einsum("nkd,nlmkd->nklm", t[lab["prompt"]], i[lab["images"]])
    mask = lab["columns"].unsqueeze(1)  # (n, 1, L)
    chosen = lab["chosen"].view(-1, 1, 1).expand(-1, scores.shape[1], 1)  # (n, K, 1)
    utilities = aggregator(scores)  # (n, K, L)
    ll = w.choice * model.choice_log_probs(utilities, mask).gather(-1, chosen).squeeze(-1)
    best = scores.amax(dim=-1)  # (n, K, L)
    best_chosen = best.gather(-1, chosen)  # (n, K, 1)
    others = mask & (torch.arange(best.shape[-1], device=best.device) != chosen)
    ll = ll + w.in_turn * (F.logsigmoid(best_chosen - best) * others).sum(-1)
    if w.satisfaction and "satisfaction" in lab:
        ll = ll + w.satisfaction * _satisfaction(model, utilities, lab["satisfaction"], lab["columns"])
    return ll + w.cross_turn * _cross_turn(best_chosen.squeeze(-1), lab)


def _satisfaction(model: Any, utilities: torch.Tensor, scores: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """(n, K) log-likelihood of the 1-5 column scores (NaN: not scored)."""
    known = ~torch.isnan(scores) & columns  # (n, L)
    if not bool(known.any()):
        return utilities.new_zeros(utilities.shape[:2])
    if model.config.satisfaction == "ordinal":
        ll = _ordinal(model, utilities, scores.nan_to_num(3.0).long() - 1)
    else:
        value = ((scores.nan_to_num(3.0) - 3.0) / 2.0).unsqueeze(1)  # (n, 1, L)
        mean = model.satisfaction_scale * utilities + model.satisfaction_bias
        z = (value - mean) / model.satisfaction_log_sigma.exp()
        ll = -0.5 * z**2 - model.satisfaction_log_sigma - 0.5 * math.log(2 * math.pi)
    return (ll * known.unsqueeze(1)).sum(-1)


def _ordinal(model: Any, utilities: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(n, K, L) ordered-probit log P(score bin | utility); ``bins`` (n, L) in 0..4."""
    # Outer edges far out but finite: an infinite one gives 0 * inf = NaN gradients.
    far = utilities.new_tensor([OUTER_EDGE])
    edges = torch.cat([-far, model.satisfaction_cut_points(), far])
    latent = model.satisfaction_scale * utilities  # (n, K, L)
    low, high = edges[bins].unsqueeze(1) - latent, edges[bins + 1].unsqueeze(1) - latent
    return interval_log_prob(low, high)


def interval_log_prob(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """log(Phi(high) - Phi(low)) for low < high, stable in both tails (an interval above
    0 is mirrored below it, where log Phi keeps its precision)."""
    mirror = low > 0
    a, b = torch.where(mirror, -low, high), torch.where(mirror, -high, low)
    log_a, log_b = torch.special.log_ndtr(a), torch.special.log_ndtr(b)
    return log_a + torch.log1p(-torch.exp((log_b - log_a).clamp(max=-1e-12)))


def _cross_turn(best_chosen: torch.Tensor, lab: dict[str, torch.Tensor]) -> torch.Tensor:
    comparison, sample = lab["comparison"], lab["sample"]
    out = torch.zeros_like(best_chosen)
    if len(sample) < 2:
        return out
    valid = ~torch.isnan(comparison[1:]) & (sample[1:] == sample[:-1])
    target = ((comparison[1:] + 1) / 2).nan_to_num(0.5).unsqueeze(-1)
    ll = _bt(best_chosen[1:] - best_chosen[:-1], target) * valid.unsqueeze(-1)
    return torch.cat([out[:1], ll])


def sample_loglik(model: Any, aggregator: Any, batch: Batch, weights: LossWeights) -> torch.Tensor:
    """(B, K) log-likelihood of every sample's labels under every type."""
    t: Any = model.text(batch.text) if len(batch.text) else None
    i: Any = model.image(batch.images) if len(batch.images) else None
    total = torch.zeros((batch.num_samples, model.config.types), device=batch.images.device)
    lab = batch.labels
    if "pairs" in lab and len(lab["pairs"]["sample"]):
        ll = weights.pairs * pair_loglik(model, t, i, lab["pairs"])
        total = total + _per_sample(ll, lab["pairs"]["sample"], batch.num_samples)
    if "ratings" in lab and len(lab["ratings"]["sample"]):
        ll = weights.ratings * rating_loglik(model, t, i, lab["ratings"])
        total = total + _per_sample(ll, lab["ratings"]["sample"], batch.num_samples)
    if "turns" in lab and len(lab["turns"]["sample"]):
        ll = turn_loglik(model, aggregator, t, i, lab["turns"], weights)
        total = total + _per_sample(ll, lab["turns"]["sample"], batch.num_samples)
    return total
