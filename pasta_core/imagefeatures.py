"""A fixed, training-free image feature extractor (colour, layout, texture).

Used where no pretrained image encoder is available offline: the embedded encoder and the
simple simulated user. Every image is downsampled to 64 x 64 and described by

- colour (24): a saturation-weighted 12-bin hue histogram, 6 brightness bins, 6 saturation bins;
- layout (48): the mean RGB of each cell of a 4 x 4 grid (spatial composition);
- texture (8): mean gradient magnitude overall and per quadrant, edge density, and the
  share of high-frequency energy (smooth paintings vs. noisy or pixelated renderings).

80 values in [0, 1], deterministic, no learned parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

FEATURE_DIM = 80
_SIDE = 64


def _as_array(image: Image) -> np.ndarray:
    from PIL import Image as PILImage

    small = image.convert("RGB").resize((_SIDE, _SIDE), PILImage.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


def _colour(rgb: np.ndarray) -> np.ndarray:
    maxc, minc = rgb.max(axis=-1), rgb.min(axis=-1)
    delta = maxc - minc
    sat = np.where(maxc > 0, delta / np.maximum(maxc, 1e-6), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.maximum(delta, 1e-6)
    hue = np.select(
        [maxc == r, maxc == g],
        [((g - b) / safe) % 6, (b - r) / safe + 2],
        (r - g) / safe + 4,
    ) / 6.0
    hue_hist = np.bincount(
        np.minimum((hue * 12).astype(int), 11).ravel(), weights=sat.ravel(), minlength=12
    )
    hue_hist = hue_hist / max(hue_hist.sum(), 1e-6)
    value_hist = np.histogram(maxc, bins=6, range=(0, 1))[0] / maxc.size
    sat_hist = np.histogram(sat, bins=6, range=(0, 1))[0] / sat.size
    return np.concatenate([hue_hist, value_hist, sat_hist])


def _layout(rgb: np.ndarray) -> np.ndarray:
    cells = rgb.reshape(4, _SIDE // 4, 4, _SIDE // 4, 3).mean(axis=(1, 3))
    return cells.ravel()


def _texture(rgb: np.ndarray) -> np.ndarray:
    gray = rgb.mean(axis=-1)
    gx = np.abs(np.diff(gray, axis=1))[:-1, :]
    gy = np.abs(np.diff(gray, axis=0))[:, :-1]
    mag = np.sqrt(gx**2 + gy**2)
    h = mag.shape[0] // 2
    quadrants = [mag[:h, :h], mag[:h, h:], mag[h:, :h], mag[h:, h:]]
    spectrum = np.abs(np.fft.rfft2(gray - gray.mean())) ** 2
    high = spectrum[_SIDE // 8 :, :].sum() / max(spectrum.sum(), 1e-9)
    values = [mag.mean(), *(q.mean() for q in quadrants), (mag > 0.1).mean(), high, gray.std()]
    return np.clip(np.array(values) * np.array([4, 4, 4, 4, 4, 1, 1, 2]), 0, 1)


def image_features(images: Sequence[Image]) -> np.ndarray:
    """Features of each image: shape (len(images), FEATURE_DIM), float32 in [0, 1]."""
    rows = []
    for image in images:
        rgb = _as_array(image)
        rows.append(np.concatenate([_colour(rgb), _layout(rgb), _texture(rgb)]))
    if not rows:
        return np.zeros((0, FEATURE_DIM), dtype=np.float32)
    return np.stack(rows).astype(np.float32)
