"""The planted world's measured visual attributes.

The image features themselves come from :func:`pasta_encoders.imagefeatures.image_features`
(batched). :func:`measured_attributes` turns those features into the planted world's interpretable
visual attributes. They are *measured on the image* (never read from the prompt), so the
planted utility is a property of what a person would see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SIDE = 64

#: The measured attributes, in the order of :func:`measured_attributes`' columns.
ATTRIBUTES: tuple[str, ...] = ("brightness", "saturation", "warmth", "texture", "contrast", "sky")

# Population mean and spread of each attribute over renders of the packaged prompts
# (procedural renderer at 64 px, measured once; see docs/planted-world.md). They only put
# the attributes on one scale: any fixed values define an equally "known" world.
ATTRIBUTE_MEAN = np.array([0.60, 0.37, 0.01, 0.19, 0.38, 0.24])
ATTRIBUTE_STD = np.array([0.14, 0.12, 0.16, 0.18, 0.09, 0.11])


def _pixels(images: Sequence[Any]) -> np.ndarray:
    from PIL import Image as PILImage

    arrays = []
    for image in images:
        if image.size != (SIDE, SIDE) or image.mode != "RGB":
            image = image.convert("RGB").resize((SIDE, SIDE), PILImage.Resampling.BILINEAR)
        arrays.append(np.asarray(image, dtype=np.float32))
    return np.stack(arrays) / 255.0


def raw_attributes(features: np.ndarray) -> np.ndarray:
    """The attributes before standardization, from image features: (N, 6).

    brightness: mean RGB; saturation: mean of the saturation histogram; warmth: red minus
    blue; texture: mean gradient magnitude; contrast: grey-level spread; sky: brightness of
    the top half minus the bottom half. All are linear in the features.
    """
    f = np.asarray(features, dtype=np.float64)
    grid = f[:, 24:72].reshape(-1, 4, 4, 3)
    centres = (np.arange(6) + 0.5) / 6
    return np.stack(
        [
            grid.mean(axis=(1, 2, 3)),
            f[:, 18:24] @ centres,
            grid[..., 0].mean(axis=(1, 2)) - grid[..., 2].mean(axis=(1, 2)),
            f[:, 72],
            f[:, 79],
            grid[:, :2].mean(axis=(1, 2, 3)) - grid[:, 2:].mean(axis=(1, 2, 3)),
        ],
        axis=1,
    )


def raw_attributes_of_images(images: Sequence[Any]) -> np.ndarray:
    """:func:`raw_attributes` straight from images, without the full feature vector (the
    hue histogram and the spectrum are not needed): several times cheaper."""
    if len(images) == 0:
        return np.zeros((0, len(ATTRIBUTES)))
    rgb = _pixels(images)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Element-wise over the 3 channels: numpy's reductions over a length-3 axis cost
    # several times more (same values).
    maxc, minc = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    sat = np.where(maxc > 0, (maxc - minc) / np.maximum(maxc, 1e-6), 0.0)
    sat_bin = np.minimum((sat * 6).astype(np.int64), 5)
    gray = (r + g + b) / 3
    gx = np.abs(np.diff(gray, axis=2))[:, :-1, :]
    gy = np.abs(np.diff(gray, axis=1))[:, :, :-1]
    texture = np.clip(4 * np.sqrt(gx**2 + gy**2).mean(axis=(1, 2)), 0, 1)
    half = SIDE // 2
    return np.stack(
        [
            rgb.mean(axis=(1, 2, 3)),
            ((sat_bin + 0.5) / 6).mean(axis=(1, 2)),
            rgb[..., 0].mean(axis=(1, 2)) - rgb[..., 2].mean(axis=(1, 2)),
            texture,
            np.clip(2 * gray.std(axis=(1, 2)), 0, 1),
            rgb[:, :half].mean(axis=(1, 2, 3)) - rgb[:, half:].mean(axis=(1, 2, 3)),
        ],
        axis=1,
    ).astype(np.float64)


def standardize(raw: np.ndarray) -> np.ndarray:
    """Raw attributes -> standardized ones (about mean 0, spread 1 over typical renders)."""
    return (np.asarray(raw, dtype=np.float64) - ATTRIBUTE_MEAN) / ATTRIBUTE_STD


def measured_attributes(images: Sequence[Any]) -> np.ndarray:
    """Standardized measured attributes of images: (N, 6)."""
    return standardize(raw_attributes_of_images(images))
