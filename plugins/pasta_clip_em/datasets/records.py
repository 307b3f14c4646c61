"""The records dataset readers yield: preference pairs, ratings, rankings.

An image is referenced by a ``pathlib.Path`` (a file) or by its encoded ``bytes`` (e.g.
Pick-a-Pic's ``jpg_0``); the embedding cache hashes either by content.
"""

from __future__ import annotations

from pathlib import Path

import attrs

ImageRef = Path | bytes


@attrs.frozen
class PairRecord:
    """One preference between two images for a prompt; ``target`` = P(a preferred):
    1, 0, or 0.5 for a tie. ``sample`` groups the labels of one rater."""

    sample: str
    prompt: str
    image_a: ImageRef = attrs.field(repr=False)
    image_b: ImageRef = attrs.field(repr=False)
    target: float
    location: str = ""


@attrs.frozen
class RatingRecord:
    """One rating of an image for a prompt by the rater ``sample`` (raw scale)."""

    sample: str
    prompt: str
    image: ImageRef = attrs.field(repr=False)
    rating: float
    location: str = ""


@attrs.frozen
class RankingRecord:
    """Images of one prompt with human ranks (1 = best)."""

    prompt: str
    images: tuple[ImageRef, ...] = attrs.field(repr=False)
    ranks: tuple[float, ...]
    location: str = ""
