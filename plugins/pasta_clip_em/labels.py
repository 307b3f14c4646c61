"""Training labels as integer indices into embedding tables, grouped into samples.

A *sample* holds every label of one rater (Pick-a-Pic ``user_id``) or one session, so
that the EM posterior over user types personalizes. Three kinds of labels:

- pairs: (prompt, image a, image b, target) with target = P(a preferred): 1, 0, or 0.5
  for a tie (Bradley-Terry);
- ratings: (prompt, image, value) with the value normalized (Gaussian likelihood);
- turns: (intent prompt, images L x M, chosen column, comparison with the previous turn
  of the same session: +1 better, 0 same, -1 worse, NaN unknown, and optionally the
  rater's 1-5 satisfaction with each column, NaN where not asked) for multi-turn data.

Labels of each kind are stored sorted by sample with CSR offsets, so a mini-batch of
samples gathers all of their labels with a few vectorized numpy operations.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from pasta_core.errors import InvalidValueError


def _ranges(offsets: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of every label of ``samples`` and the batch-local sample of each."""
    starts, ends = offsets[samples], offsets[samples + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    local = np.repeat(np.arange(len(samples)), lengths)
    first = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return first + np.arange(total), local


def _offsets(sample: np.ndarray, num_samples: int) -> np.ndarray:
    counts = np.bincount(sample, minlength=num_samples)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@attrs.define
class LabelKind:
    """One kind of label: named integer/float columns of equal length, sorted by sample."""

    sample: np.ndarray
    columns: dict[str, np.ndarray]
    offsets: np.ndarray = attrs.field(init=False)

    def sort(self, num_samples: int) -> None:
        order = np.argsort(self.sample, kind="stable")
        self.sample = self.sample[order]
        self.columns = {k: v[order] for k, v in self.columns.items()}
        self.offsets = _offsets(self.sample, num_samples)

    def __len__(self) -> int:
        return len(self.sample)

    def gather(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        rows, local = _ranges(self.offsets, samples)
        return {"sample": local, **{k: v[rows] for k, v in self.columns.items()}}

    def subset(self, rows: np.ndarray) -> LabelKind:
        return LabelKind(self.sample[rows], {k: v[rows] for k, v in self.columns.items()})


class _Grouped:
    """What every label set shares: samples and the label kinds over them."""

    __slots__ = ()
    sample_names: list[str]
    pairs: LabelKind | None
    ratings: LabelKind | None
    turns: LabelKind | None

    def _sort(self) -> None:
        for kind in self.kinds().values():
            kind.sort(self.num_samples)

    @property
    def num_samples(self) -> int:
        return len(self.sample_names)

    def kinds(self) -> dict[str, LabelKind]:
        return {n: k for n, k in (("pairs", self.pairs), ("ratings", self.ratings), ("turns", self.turns)) if k is not None}

    def num_labels(self) -> dict[str, int]:
        return {name: len(kind) for name, kind in self.kinds().items()}

    def batch(self, samples: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """All labels of ``samples`` (batch-local sample ids in ``"sample"``)."""
        return {name: kind.gather(np.asarray(samples)) for name, kind in self.kinds().items()}


@attrs.define
class LabelSet(_Grouped):
    """Embedding tables plus labels, grouped into named samples."""

    text: np.ndarray
    images: np.ndarray
    sample_names: list[str]
    pairs: LabelKind | None = None
    ratings: LabelKind | None = None
    turns: LabelKind | None = None
    meta: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.text.shape[1] != self.images.shape[1]:
            raise InvalidValueError("text and image embeddings must have the same size")
        self._sort()

    @property
    def dim(self) -> int:
        return int(self.text.shape[1])


@attrs.define
class RawLabelSet(_Grouped):
    """The same labels over raw prompts and images, for the fine-tuning phase: label
    indices point into ``texts`` (strings) and ``images`` (paths, encoded bytes or PIL
    images) instead of embedding tables."""

    texts: list[str]
    images: list[Any]
    sample_names: list[str]
    pairs: LabelKind | None = None
    ratings: LabelKind | None = None
    turns: LabelKind | None = None
    meta: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self._sort()


def pair_labels(sample: Any, prompt: Any, a: Any, b: Any, target: Any) -> LabelKind:
    """Bradley-Terry labels; ``target`` is P(a preferred): 1, 0 or 0.5 (tie)."""
    target = np.asarray(target, dtype=np.float32)
    if np.any((target < 0) | (target > 1)):
        raise InvalidValueError("pair targets are probabilities in [0, 1]")
    return LabelKind(
        np.asarray(sample, dtype=np.int64),
        {"prompt": np.asarray(prompt, np.int64), "a": np.asarray(a, np.int64),
         "b": np.asarray(b, np.int64), "target": target},
    )


def rating_labels(sample: Any, prompt: Any, image: Any, value: Any) -> LabelKind:
    """Gaussian labels on normalized ratings."""
    return LabelKind(
        np.asarray(sample, dtype=np.int64),
        {"prompt": np.asarray(prompt, np.int64), "image": np.asarray(image, np.int64),
         "value": np.asarray(value, np.float32)},
    )


def turn_labels(sample: Any, prompt: Any, images: Any, columns: Any, chosen: Any, comparison: Any,
                satisfaction: Any = None) -> LabelKind:
    """Multi-turn labels. ``images`` is (n, L, M) image indices (pad short slates by
    repeating a column and mark real columns in ``columns``, (n, L) bool); ``comparison``
    compares each turn with the previous turn of its session (+1/0/-1, NaN unknown, and
    NaN for a session's first turn); ``satisfaction`` (n, L), optional, holds the rater's
    1-5 score of each column (NaN where unknown). Rows of one session must be in turn order."""
    images = np.asarray(images, dtype=np.int64)
    if images.ndim != 3:
        raise InvalidValueError("turn images must be (turns, columns, images per column)")
    if satisfaction is None:
        satisfaction = np.full(images.shape[:2], np.nan, dtype=np.float32)
    satisfaction = np.asarray(satisfaction, dtype=np.float32)
    if satisfaction.shape != images.shape[:2]:
        raise InvalidValueError(f"satisfaction must be (turns, columns) = {images.shape[:2]}, got {satisfaction.shape}")
    known = satisfaction[~np.isnan(satisfaction)]
    if np.any((known < 1) | (known > 5)):
        raise InvalidValueError("satisfaction scores are 1..5 (NaN where unknown)")
    return LabelKind(
        np.asarray(sample, dtype=np.int64),
        {"prompt": np.asarray(prompt, np.int64), "images": images,
         "columns": np.asarray(columns, dtype=bool), "chosen": np.asarray(chosen, np.int64),
         "comparison": np.asarray(comparison, np.float32), "satisfaction": satisfaction},
    )
