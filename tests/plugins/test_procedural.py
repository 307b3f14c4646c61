"""The procedural renderer: real pictures that follow the prompt."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core.errors import InvalidValueError
from pasta_procedural import ProceduralT2I, describe


@pytest.fixture(scope="module")
def t2i():
    return ProceduralT2I()


def _arr(image):
    return np.asarray(image, dtype=np.float64)


def test_images_are_at_least_256_pixels(t2i):
    (image,) = t2i.render(["a cat"], [0])
    assert image.size == (256, 256) and image.mode == "RGB"


def test_seeds_vary_the_images_of_one_prompt(t2i):
    images = t2i.render(["a dog in a field"] * 4, [0, 1, 2, 3])
    arrays = [_arr(i) for i in images]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(arrays[i] - arrays[j]).mean() > 1.0


def test_different_prompts_give_visibly_different_images(t2i):
    a, b = t2i.render(["a red car on a street", "a watercolor of a forest at night"], [0, 0])
    assert np.abs(_arr(a) - _arr(b)).mean() > 20


def test_colour_words_colour_the_subject(t2i):
    red = _arr(t2i.render(["a red ball"], [3])[0])
    blue = _arr(t2i.render(["a blue ball"], [3])[0])
    assert red[..., 0].mean() - red[..., 2].mean() > blue[..., 0].mean() - blue[..., 2].mean() + 5


def test_mood_words_change_brightness(t2i):
    bright = _arr(t2i.render(["a house, bright and sunny"], [1])[0]).mean()
    dark = _arr(t2i.render(["a house, dark and gloomy"], [1])[0]).mean()
    assert bright > dark + 20


def test_style_words_change_texture(t2i):
    plain, sketch = t2i.render(["a castle", "a pencil sketch of a castle"], [2, 2])
    assert np.abs(_arr(sketch)[..., 0] - _arr(sketch)[..., 2]).mean() < 1.0  # greyscale
    assert np.abs(_arr(plain)[..., 0] - _arr(plain)[..., 2]).mean() > 1.0


def test_scene_attributes_follow_words():
    assert describe("three cats").subjects[0].count == 3
    assert describe("a tiny dog").subjects[0].scale < describe("a giant dog").subjects[0].scale
    assert describe("a cat at sunset, warm").warmth > describe("a cat, cold and icy").warmth
    assert describe("pixel art of a car").style == "pixel"


def test_bad_size_and_mismatched_seeds_are_errors(t2i):
    with pytest.raises(InvalidValueError):
        ProceduralT2I(size=4)
    with pytest.raises(InvalidValueError, match="seeds"):
        t2i.render(["a"], [1, 2])
