"""The batched image features equal the image-by-image definition."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pasta_encoders.imagefeatures import FEATURE_DIM, image_features, reference_features
from pasta_procedural import ProceduralT2I


def test_batched_features_equal_the_reference():
    prompts = ["a bright sunny house", "a dark gloomy forest, oil painting", "a red cube", "neon city at night"]
    images = ProceduralT2I(size=64).render(prompts * 3, range(12)) + ProceduralT2I(size=96).render(prompts, range(4))
    images.append(Image.new("L", (50, 70), 128))  # other size and mode: resized and converted
    images.append(Image.new("RGB", (64, 64), (255, 255, 255)))  # saturation 0, brightness on the closed edge
    batched = image_features(images)
    assert batched.shape == (len(images), FEATURE_DIM) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, reference_features(images), atol=1e-6)
    assert image_features([]).shape == (0, FEATURE_DIM)
