"""The randconv encoder: the Encoder contract, and an image side of its own."""

from __future__ import annotations

import inspect

import numpy as np

from pasta_core import get_plugins
from pasta_core.testing import check_encoder


def test_randconv_follows_the_encoder_contract() -> None:
    encoder = get_plugins().create("encoder", "randconv", dim=48, seed=3)
    check_encoder(encoder)
    assert encoder.dim == 48 and "randconv" in encoder.identity
    other = get_plugins().create("encoder", "randconv", dim=48, seed=4)
    assert other.identity != encoder.identity


def test_randconv_images_are_deterministic_and_tell_scenes_apart() -> None:
    from pasta_procedural import ProceduralT2I

    t2i = ProceduralT2I(size=64)
    bright = t2i.render(["a bright sunny beach"] * 6, range(6))
    dark = t2i.render(["a dark gloomy forest at night"] * 6, range(6))
    encoder = get_plugins().create("encoder", "randconv", dim=32)
    a, b = encoder.encode_images(bright), encoder.encode_images(dark)
    assert np.array_equal(a, get_plugins().create("encoder", "randconv", dim=32).encode_images(bright))
    within = np.linalg.norm(a - a.mean(0), axis=1).mean()
    assert np.linalg.norm(a.mean(0) - b.mean(0)) > within  # the scenes differ more than their renders


def test_randconv_shares_no_code_with_the_planted_attributes() -> None:
    """Its image side uses neither the fixed image features nor the planted measurements."""
    import pasta_encoders.randconv as module

    source = inspect.getsource(module)
    assert "imagefeatures" not in source.replace("pasta_encoders.imagefeatures`", "")
    assert "image_features" not in source and "pasta_planted" not in source
