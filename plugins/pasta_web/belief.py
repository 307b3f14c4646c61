"""The belief view: the agent's posterior over user types, with example images per type.

After each click the user model's ``posterior(intent, observed)`` is computed from every
(columns shown, column chosen) pair so far. The example images of a type are the ones it
scores highest among all images this person has been shown, which says in pictures what
that type of person likes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from pasta_core.plugins import Plugins
from pasta_core.types import Column
from pasta_web.live import build_component

EXAMPLES_PER_TYPE = 3

#: An image's place: (1-based turn, 1-based column, 1-based image).
ImageId = tuple[int, int, int]


@attrs.frozen
class Belief:
    """P(type | clicks so far) and each type's favourite images among those seen."""

    clicks: int
    posterior: tuple[float, ...]
    examples: tuple[tuple[ImageId, ...], ...]


def build_user_model(plugins: Plugins, name: str, options: dict[str, Any]) -> Any:
    """A registered user model, or one loaded from a checkpoint folder (its ``config.json``
    names the plugin); raises :class:`~pasta_core.errors.PluginError` when it cannot be
    built."""
    return build_component(plugins, "user-model", name, options, load=True)


class BeliefTracker:
    """Computes beliefs with one user model shared by every session. Sessions' worker threads
    ask at once; each belief is computed under one lock (the model's calls are serialized
    and the caller's score cache is filled by one thread at a time). Image scores for the
    examples are remembered per slate, so each image is scored once for them."""

    def __init__(self, user_model: Any, examples: int = EXAMPLES_PER_TYPE) -> None:
        self.user_model = user_model
        self.examples = examples
        self._lock = threading.Lock()

    def belief(
        self,
        intent: str,
        observed: Sequence[tuple[Sequence[Column], int]],
        shown: Sequence[Sequence[Column]],
        cache: dict[int, np.ndarray] | None = None,
    ) -> Belief:
        """``observed``: each answered turn's columns and choice; ``shown``: the columns of
        every turn shown so far (answered ones and the one on show), in turn order;
        ``cache``: turn -> image scores, kept by the caller between calls."""
        cache = {} if cache is None else cache
        ids: list[ImageId] = []
        blocks: list[np.ndarray] = []
        with self._lock:
            posterior = np.asarray(self.user_model.posterior(intent, list(observed)), dtype=float)
            for t, columns in enumerate(shown, start=1):
                images = [image for column in columns for image in column.images]
                if t not in cache:
                    cache[t] = np.asarray(self.user_model.scores(intent, images)).reshape(len(posterior), -1)
                blocks.append(cache[t])
                ids.extend(
                    (t, c, m) for c, column in enumerate(columns, start=1) for m in range(1, len(column.images) + 1)
                )
        scores = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(posterior), 0))
        examples = tuple(
            tuple(ids[i] for i in np.argsort(-scores[k], kind="stable")[: self.examples])
            for k in range(len(posterior))
        )
        return Belief(len(observed), tuple(float(p) for p in posterior), examples)
