"""A personalized scorer, used the way PickScore and HPSv2 are used as metrics.

    from pasta_clip_em.scorer import PersonalScorer
    scorer = PersonalScorer("runs/user-model")
    scorer(prompt, images)                        # (K, N): every user type
    scorer(prompt, images, user_type=3)           # (N,)
    scorer(prompt, images, observed=[(columns, chosen), ...])   # (N,) under the posterior

Image and prompt embeddings are computed in batches and remembered within the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class PersonalScorer:
    """Scores images for a prompt under every user type, one type, or a posterior."""

    def __init__(self, user_model: Any, device: str = "cpu") -> None:
        if isinstance(user_model, str) or hasattr(user_model, "__fspath__"):
            from pasta_clip_em.usermodel import create_user_model

            user_model = create_user_model(path=str(user_model), device=device)
        self.user_model = user_model

    def __call__(self, prompt: str, images: Sequence[Any], user_type: int | None = None,
                 observed: Sequence[tuple[Sequence[Any], int]] | None = None,
                 posterior: np.ndarray | None = None) -> np.ndarray:
        scores = self.user_model.scores(prompt, images)
        if user_type is not None:
            return scores[int(user_type)]
        if observed is not None:
            posterior = self.user_model.posterior(prompt, observed)
        if posterior is not None:
            return np.asarray(posterior) @ scores
        return scores


def score_images(user_model: Any, prompt: str, images: Sequence[Any], **kwargs: Any) -> np.ndarray:
    """Functional form of :class:`PersonalScorer` (``user_model``: object or checkpoint path)."""
    return PersonalScorer(user_model)(prompt, images, **kwargs)
