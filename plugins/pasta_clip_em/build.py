"""From dataset records to a :class:`LabelSet` on cached embeddings.

``LabelBuilder`` collects pairs, ratings and multi-turn sessions from any mix of readers,
deduplicating prompts and images, then embeds them once through an
:class:`~pasta_clip_em.cache.EmbeddingCache`. Ratings are z-scored over the data set (the
Gaussian likelihood works on normalized ratings). Multi-turn slates are made rectangular:
a short slate repeats its first column (masked out), a short column its first image.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pasta_clip_em.labels import LabelSet, RawLabelSet, pair_labels, rating_labels, turn_labels
from pasta_core.errors import InvalidValueError

_COMPARISON = {"better": 1.0, "same": 0.0, "worse": -1.0}


class LabelBuilder:
    """Accumulates labels of several datasets into one label set."""

    def __init__(self) -> None:
        self.texts: dict[str, int] = {}
        self.images: dict[Any, int] = {}
        self.image_refs: list[Any] = []
        self.samples: dict[str, int] = {}
        self.pairs: list[tuple[int, int, int, int, float]] = []
        self.ratings: list[tuple[int, int, int, float]] = []
        self.turns: list[tuple[int, int, list[list[int]], int, float]] = []

    def _text(self, text: str) -> int:
        return self.texts.setdefault(text, len(self.texts))

    def _image(self, ref: Any) -> int:
        key = ref if isinstance(ref, (str, Path)) else bytes(ref)
        key = str(key) if isinstance(key, Path) else key
        if key not in self.images:
            self.images[key] = len(self.image_refs)
            self.image_refs.append(Path(ref) if isinstance(ref, str) else ref)
        return self.images[key]

    def _sample(self, name: str) -> int:
        return self.samples.setdefault(name, len(self.samples))

    def add_pairs(self, records: Iterable[Any]) -> LabelBuilder:
        for r in records:
            self.pairs.append((self._sample(r.sample), self._text(r.prompt), self._image(r.image_a),
                               self._image(r.image_b), float(r.target)))
        return self

    def add_ratings(self, records: Iterable[Any]) -> LabelBuilder:
        for r in records:
            self.ratings.append((self._sample(r.sample), self._text(r.prompt), self._image(r.image), float(r.rating)))
        return self

    def add_sessions(self, trajectories: Iterable[Any]) -> LabelBuilder:
        """Trajectories whose turns carry image paths (see pasta_clip_em.datasets.read_sessions)."""
        for t in trajectories:
            sample, prompt = self._sample(f"session-{t.session_id}"), self._text(t.initial_prompt)
            for n, turn in enumerate(t.turns):
                images = [[self._image(Path(r)) for r in column] for column in turn.image_refs]
                comparison = _COMPARISON.get(turn.comparison or "", math.nan) if n else math.nan
                satisfaction = tuple(turn.satisfaction) if turn.satisfaction else ()
                self.turns.append((sample, prompt, images, turn.choice, comparison, satisfaction))
        return self

    def build(self, cache: Any, progress: bool = False) -> LabelSet:
        """Embed everything (through ``cache``) and return the label set."""
        if not (self.pairs or self.ratings or self.turns):
            raise InvalidValueError("no labels to train on: the readers yielded nothing usable")
        text = cache.texts(list(self.texts), progress=progress)
        images = cache.images(self.image_refs, progress=progress)
        return LabelSet(text, images, list(self.samples), pairs=self._pairs(), ratings=self._ratings(),
                        turns=self._turns())

    def build_raw(self) -> RawLabelSet:
        """The same labels over raw prompts and image references (the fine-tuning phase)."""
        if not (self.pairs or self.ratings or self.turns):
            raise InvalidValueError("no labels to train on: the readers yielded nothing usable")
        return RawLabelSet(list(self.texts), list(self.image_refs), list(self.samples), pairs=self._pairs(),
                           ratings=self._ratings(), turns=self._turns())

    def _pairs(self) -> Any:
        if not self.pairs:
            return None
        s, p, a, b, t = (np.array(c) for c in zip(*self.pairs))
        return pair_labels(s, p, a, b, t)

    def _ratings(self) -> Any:
        if not self.ratings:
            return None
        s, p, i, v = (np.array(c) for c in zip(*self.ratings))
        v = (v - v.mean()) / (v.std() if v.std() > 0 else 1.0)
        return rating_labels(s, p, i, v)

    def _turns(self) -> Any:
        if not self.turns:
            return None
        width = max(len(row[2]) for row in self.turns)
        depth = max(len(col) for row in self.turns for col in row[2])
        grid = np.zeros((len(self.turns), width, depth), dtype=np.int64)
        columns = np.zeros((len(self.turns), width), dtype=bool)
        satisfaction = np.full((len(self.turns), width), np.nan, dtype=np.float32)
        for n, (_, _, images, _, _, scores) in enumerate(self.turns):
            for j in range(width):
                column = images[j] if j < len(images) else images[0]
                grid[n, j] = [column[m] if m < len(column) else column[0] for m in range(depth)]
            columns[n, : len(images)] = True
            if len(scores) == len(images):
                satisfaction[n, : len(images)] = scores
        s, p, _, chosen, comparison, _ = zip(*self.turns)
        return turn_labels(s, p, grid, columns, chosen, comparison, satisfaction)


def embed_raw(raw: RawLabelSet, encoder: Any) -> LabelSet:
    """The same labels on embeddings: ``raw``'s prompts and images run once through
    ``encoder`` (an Encoder, or an EmbeddingCache to store and reuse them)."""
    from pasta_clip_em.cache import EmbeddingCache, open_image

    if isinstance(encoder, EmbeddingCache):
        text, images = encoder.texts(raw.texts), encoder.images(raw.images)
    else:
        text = encoder.encode_text(raw.texts)
        images = encoder.encode_images([open_image(Path(r) if isinstance(r, str) else r) for r in raw.images])
    return LabelSet(text, images, list(raw.sample_names), pairs=_copy(raw.pairs), ratings=_copy(raw.ratings),
                    turns=_copy(raw.turns), meta=dict(raw.meta))


def _copy(kind: Any) -> Any:
    return None if kind is None else kind.subset(np.arange(len(kind)))
