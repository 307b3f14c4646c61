"""The score model s(k, p, I) = score_scale * < norm(e_I + dI_k), norm(e_p + dp_k) >.

e_I and e_p are encoder embeddings (output normalization removed); dI_k and dp_k come from
a 4-layer MLP per modality whose last layer is split into K residual offsets of size d;
``score_scale`` is learned (CLIP's logit scale: it multiplies, so it is a scale, not a
temperature). The module also holds the few scalars of the likelihoods: the choice scale
tau(scores) (it multiplies the utilities too), the affine link and noise of the Gaussian rating likelihood (per image), and
those of the satisfaction likelihood (a rater's 1-5 score of a column, against the
column's utility: Gaussian, or ordered probit with 4 learned cut points).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from pasta_clip_em.config import ModelConfig


class TypeOffsets(nn.Module):
    """e -> (e + offset_k(e)) / |...| for every type k: a 4-layer MLP split into K heads."""

    def __init__(self, dim: int, types: int, hidden: int, offset_init: float) -> None:
        super().__init__()
        self.dim, self.types = dim, types
        self.body = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(),
            nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, hidden), nn.GELU(),
        )
        self.heads = nn.Linear(hidden, types * dim)
        nn.init.normal_(self.heads.weight, std=offset_init / math.sqrt(hidden))
        nn.init.zeros_(self.heads.bias)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(N, d) -> (N, K, d), unit length along the last axis."""
        offsets = self.heads(self.body(embeddings)).view(-1, self.types, self.dim)
        return F.normalize(embeddings.unsqueeze(1) + offsets, dim=-1)


class ScoreModel(nn.Module):
    """Per-type text and image towers plus the likelihood scalars."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        args = (config.dim, config.types, config.width, config.offset_init)
        self.text = TypeOffsets(*args)
        self.image = TypeOffsets(*args)
        self.log_score_scale = nn.Parameter(torch.tensor(math.log(config.score_scale)))
        # Choice scale tau = exp(log_tau) / (1 + softplus(spread) * std of utilities).
        self.log_tau = nn.Parameter(torch.tensor(0.0))
        self.spread = nn.Parameter(torch.tensor(-3.0))
        # Gaussian ratings: rating ~ N(scale * s + bias, sigma^2) on normalized ratings.
        self.rating_scale = nn.Parameter(torch.tensor(0.1))
        self.rating_bias = nn.Parameter(torch.tensor(0.0))
        self.rating_log_sigma = nn.Parameter(torch.tensor(0.0))
        # Column satisfaction: (score - 3) / 2 ~ N(scale * R + bias, sigma^2), R the column utility.
        self.satisfaction_scale = nn.Parameter(torch.tensor(0.1))
        self.satisfaction_bias = nn.Parameter(torch.tensor(0.0))
        self.satisfaction_log_sigma = nn.Parameter(torch.tensor(0.0))
        if config.satisfaction == "ordinal":
            # Ordered probit: score j when the latent scale * R + N(0, 1) falls between cut
            # points j-1 and j (the first cut, then softplus gaps).
            self.satisfaction_cuts = nn.Parameter(torch.tensor([-1.5, 0.0, 0.0, 0.0]))

    def satisfaction_cut_points(self) -> torch.Tensor:
        """The 4 increasing cut points of the ordinal satisfaction likelihood."""
        first, gaps = self.satisfaction_cuts[:1], F.softplus(self.satisfaction_cuts[1:]) * (1 / math.log(2))
        return torch.cat([first, first + gaps.cumsum(0)])

    @property
    def score_scale(self) -> torch.Tensor:
        """The factor multiplying every cosine (at most 1000)."""
        return self.log_score_scale.clamp(max=math.log(1000.0)).exp()

    def scores(self, text: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Row-wise scores: text (N, K, d) and images (N, K, d) already typed -> (N, K)."""
        return self.score_scale * (text * images).sum(-1)

    def score_matrix(self, text_embedding: torch.Tensor, image_embeddings: torch.Tensor) -> torch.Tensor:
        """One prompt (d,) against N images (N, d): scores of shape (K, N)."""
        t = self.text(text_embedding.view(1, -1))[0]  # (K, d)
        i = self.image(image_embeddings)  # (N, K, d)
        return self.score_scale * torch.einsum("kd,nkd->kn", t, i)

    def choice_tau(self, utilities: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """tau(scores) per row of ``utilities`` (..., L): one positive factor per row, so it
        never changes the order of a row's utilities (the paper's Assumption 2).

        The spread is the row's standard deviation (over the masked columns through
        :func:`spread_of`: a row of alike columns has a zero gradient there, as torch's
        own ``std`` gives it)."""
        if mask is None:
            spread = utilities.std(dim=-1, unbiased=False, keepdim=True)
        else:
            m = mask.to(utilities.dtype)
            count = m.sum(-1, keepdim=True).clamp(min=1)
            mean = (utilities * m).sum(-1, keepdim=True) / count
            spread = spread_of(((utilities - mean) ** 2 * m).sum(-1, keepdim=True) / count)
        return self.log_tau.exp() / (1 + F.softplus(self.spread) * spread)

    def choice_log_probs(self, utilities: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log softmax over columns (last axis) of tau(utilities) * utilities."""
        logits = self.choice_tau(utilities, mask) * utilities
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        return logits.log_softmax(dim=-1)


def spread_of(variance: torch.Tensor) -> torch.Tensor:
    """sqrt(variance), with the gradient 0 where the variance is 0.

    A standard deviation is not differentiable where every value is the same (it is a
    norm of the deviations): autograd's sqrt backward there is 1 / (2 sqrt(0)) times a
    zero, which is NaN, and one such row of one batch made every weight of a user model
    NaN (issue 21: a slate of four alike columns). 0 is the norm's smallest subgradient at
    that point, so the value is unchanged everywhere and the gradient is finite."""
    positive = variance > 0
    return torch.where(positive, torch.where(positive, variance, torch.ones_like(variance)).sqrt(),
                       torch.zeros_like(variance))


#: Parameters added after the first release: a checkpoint without them loads with their
#: initial values (they only matter when training on satisfaction labels).
OPTIONAL_PARAMETERS = ("satisfaction_scale", "satisfaction_bias", "satisfaction_log_sigma")
#: Parameters renamed since checkpoints were first written: old name -> new name.
LEGACY_PARAMETERS = {"log_temperature": "log_score_scale"}


def upgrade_state(tensors: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``tensors`` with the old names of renamed parameters (``prefix`` + old name)
    replaced by the new ones, so checkpoints written before a rename load as they are."""
    renames = {prefix + old: prefix + new for old, new in LEGACY_PARAMETERS.items()}
    return {renames.get(key, key): value for key, value in tensors.items()}


def build_model(config: ModelConfig, seed: int = 0) -> ScoreModel:
    """A freshly initialised score model (seeded)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ScoreModel(config)


def state_tensors(model: ScoreModel) -> dict[str, Any]:
    """The model's tensors, contiguous and on the CPU (for safetensors)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
