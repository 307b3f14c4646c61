"""The encoder interface user models build on: a text encoder and an image encoder that
map into one space of ``dim`` values.

Embeddings are returned *without* output normalization (the user model adds its per-type
offsets before normalizing, as in the paper). ``identity`` names the encoder and its weights
so that cached embeddings are never mixed between encoders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image


@runtime_checkable
class Encoder(Protocol):
    """A text/image encoder pair sharing one embedding size."""

    @property
    def dim(self) -> int:
        """Embedding size d (text and image embeddings both have it)."""
        ...

    @property
    def identity(self) -> str:
        """A stable string naming the encoder and its weights (a cache key component)."""
        ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``: float32, shape (len(texts), dim), not normalized."""
        ...

    def encode_images(self, images: Sequence[Image]) -> np.ndarray:
        """Embeddings of PIL ``images``: float32, shape (len(images), dim), not normalized."""
        ...


def check_encoder(encoder: Encoder) -> None:
    """Raise ``AssertionError`` unless ``encoder`` follows the contract above (for tests)."""
    from PIL import Image as PILImage

    assert isinstance(encoder, Encoder), "dim, identity, encode_text, encode_images are needed"
    texts = encoder.encode_text(["a red cat", "a blue dog"])
    assert texts.shape == (2, encoder.dim) and texts.dtype == np.float32, f"text shape {texts.shape}"
    images = [PILImage.new("RGB", (40, 30), c) for c in ((200, 10, 10), (10, 10, 200))]
    embedded = encoder.encode_images(images)
    assert embedded.shape == (2, encoder.dim) and embedded.dtype == np.float32, "image shape"
    assert np.all(np.isfinite(texts)) and np.all(np.isfinite(embedded)), "non-finite embedding"
    assert encoder.encode_text([]).shape == (0, encoder.dim), "empty text batch"
    assert encoder.encode_images([]).shape == (0, encoder.dim), "empty image batch"
    again = encoder.encode_text(["a red cat"])
    assert np.allclose(again[0], texts[0], atol=1e-4), "not deterministic"
    assert isinstance(encoder.identity, str) and encoder.identity, "identity must be a string"
