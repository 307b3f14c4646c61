"""The offline ``randconv`` encoder: a small random convolutional image tower.

Its image side shares no code and no hand-made measurement with the fixed image features
of :mod:`pasta_encoders.imagefeatures` (which the planted world's attributes are defined
on): every image is resized to ``size`` x ``size`` pixels and passed through two layers of
fixed random convolutions (seeded Gaussian filters, stride 2, ReLU), average-pooled over a
2 x 2 grid and over the whole image, centred on the response to a mid-grey image and
mapped to ``dim`` values by a fixed random projection. Nothing is learned: a user model
on it has to find colour, texture and layout in generic random features, so it is not
well specified by construction. Text: MiniLM as in the ``embedded`` encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CHANNELS = (16, 32)
KERNELS = (5, 3)


def _conv(x: np.ndarray, filters: np.ndarray, stride: int) -> np.ndarray:
    """Valid convolution of (N, H, W, C) by (k, k, C, F) at ``stride``, then ReLU."""
    k = filters.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    n, h, w = windows.shape[:3]
    # windows: (N, h, w, C, k, k) -> (N*h*w, k*k*C) in the filters' (k, k, C) order
    patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, -1)
    out = patches @ filters.reshape(-1, filters.shape[-1])
    return np.maximum(out, 0.0).reshape(n, h, w, -1)


class RandomConvEncoder:
    """MiniLM text embeddings and random-convolution image embeddings, both of size ``dim``."""

    def __init__(self, dim: int | str | None = None, seed: int | str = 0, size: int | str = 32) -> None:
        from pasta_encoders.embedded import TEXT_DIM, EmbeddedEncoder

        self._dim = int(dim) if dim not in (None, "") else TEXT_DIM
        self.seed, self.size = int(seed), int(size)
        self._text = EmbeddedEncoder(dim=self._dim, seed=self.seed)
        rng = np.random.default_rng([self.seed, 1])  # the text projection draws from seed alone
        channels_in = 3
        self._filters = []
        for channels, k in zip(CHANNELS, KERNELS):
            fan_in = k * k * channels_in
            self._filters.append((rng.normal(size=(k, k, channels_in, channels)) / np.sqrt(fan_in)).astype(np.float32))
            channels_in = channels
        features = CHANNELS[-1] * 5
        self._projection = (rng.normal(size=(features, self._dim)) * (0.7 / np.sqrt(self._dim))).astype(np.float32)
        grey = np.full((1, self.size, self.size, 3), 0.5, dtype=np.float32)
        self._reference = self._features(grey)[0]

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        return f"randconv:minilm-l6-v2+conv{CHANNELS}:size={self.size}:dim={self._dim}:seed={self.seed}"

    def _features(self, pixels: np.ndarray) -> np.ndarray:
        x = pixels
        for filters in self._filters:
            x = _conv(x - 0.5 if filters is self._filters[0] else x, filters, stride=2)
        n, h, w, c = x.shape
        half_h, half_w = h // 2, w // 2
        cells = [x[:, :half_h, :half_w], x[:, :half_h, half_w:], x[:, half_h:, :half_w], x[:, half_h:, half_w:], x]
        return np.concatenate([cell.mean(axis=(1, 2)) for cell in cells], axis=1) * 4.0

    def _pixels(self, images: Sequence[Any]) -> np.ndarray:
        from PIL import Image as PILImage

        side = (self.size, self.size)
        return np.stack([np.asarray(image.convert("RGB").resize(side, PILImage.Resampling.BILINEAR), dtype=np.float32)
                         for image in images]) / 255.0

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self._text.encode_text(texts)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        out = []
        for start in range(0, len(images), 256):
            features = self._features(self._pixels(images[start:start + 256])) - self._reference
            out.append(features @ self._projection)
        return np.concatenate(out).astype(np.float32)
