"""A dependency-free mean aggregator for the fakes (no plugin discovery needed)."""

from __future__ import annotations

from typing import Any

import numpy as np


class MeanOfScores:
    """Mean over the last axis (numpy or torch)."""

    def __call__(self, scores: Any) -> Any:
        if type(scores).__module__.startswith("torch"):
            return scores.mean(dim=-1)
        return np.mean(scores, axis=-1)
