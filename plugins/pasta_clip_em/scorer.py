"""A personalized scorer, used the way PickScore and HPSv2 are used as metrics.

    from pasta_clip_em.scorer import PersonalScorer
    scorer = PersonalScorer("runs/user-model", plugins=get_plugins())
    scorer(prompt, images)                        # (K, N): every user type
    scorer(prompt, images, user_type=3)           # (N,)
    scorer(prompt, images, observed=[(columns, chosen), ...])   # (N,) under the posterior

Image and prompt embeddings are computed in batches and remembered within the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.errors import InvalidValueError


class PersonalScorer:
    """Scores images for a prompt under every user type, one type, or a posterior.

    ``user_model`` is a user model, or a checkpoint folder loaded from ``plugins`` (a
    :class:`~pasta_core.plugins.Plugins` set)."""

    def __init__(self, user_model: Any, device: str = "cpu", *, plugins: Any = None) -> None:
        if isinstance(user_model, str) or hasattr(user_model, "__fspath__"):
            if plugins is None:
                raise InvalidValueError("PersonalScorer(FOLDER) loads the checkpoint from plugins=: pass the plugin set")
            user_model = plugins.load("user-model", user_model, device=device)
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
