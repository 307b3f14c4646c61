"""A planted population: K* known user types, labels drawn from a known score model.

Used by the tests, the benchmark and the accuracy figure. How it is made (for the
fine-tuning phase, :func:`planted_image_labels` plants two tastes over real pictures):

1. random prompt and image embeddings (standard normal, size ``dim``); each prompt owns
   ``images_per_prompt`` images;
2. a *planted* score model with K* types: a ScoreModel with random weights whose offset
   heads get a large random bias per type (standard normal times ``taste_scale``, about
   the length of an embedding): each type is a strong taste direction in both spaces,
   so the types really disagree;
3. raters, each of a type drawn uniformly; every rater labels ``pairs_per_rater`` pairs
   (a random prompt, two of its images), preferring a with probability
   sigma(s_z(a) - s_z(b)) under the planted model, and ``test_pairs_per_rater`` more that
   are held out.

The planted model with each rater's true type is the Bayes-optimal predictor: no learned
model can beat its held-out accuracy in expectation.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch

from pasta_clip_em.config import ModelConfig
from pasta_clip_em.labels import LabelSet, pair_labels
from pasta_clip_em.model import build_model


@attrs.frozen
class PlantedWorld:
    """Train and held-out labels over the same raters, the planted model and true types."""

    train: LabelSet
    test: LabelSet
    planted: Any
    rater_types: np.ndarray


def _pairs(rng: np.random.Generator, raters: int, per_rater: int, prompts: int, per_prompt: int) -> tuple[np.ndarray, ...]:
    sample = np.repeat(np.arange(raters), per_rater)
    prompt = rng.integers(prompts, size=len(sample))
    first = rng.integers(per_prompt, size=len(sample))
    second = (first + rng.integers(1, per_prompt, size=len(sample))) % per_prompt
    return sample, prompt, prompt * per_prompt + first, prompt * per_prompt + second


def planted_world(
    types: int = 4, dim: int = 32, raters: int = 200, pairs_per_rater: int = 20,
    test_pairs_per_rater: int = 20, prompts: int = 50, images_per_prompt: int = 8,
    score_scale: float = 10.0, taste_scale: float = 1.0, seed: int = 0,
) -> PlantedWorld:
    """Build a planted world (see the module docstring)."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(prompts, dim)).astype(np.float32)
    images = rng.normal(size=(prompts * images_per_prompt, dim)).astype(np.float32)
    config = ModelConfig(dim=dim, types=types, score_scale=score_scale)
    planted = build_model(config, seed=seed + 1).eval()
    with torch.no_grad():
        for tower in (planted.text, planted.image):
            tower.heads.bias.copy_(torch.as_tensor(rng.normal(size=types * dim) * taste_scale))
    rater_types = rng.integers(types, size=raters)
    names = [f"rater-{i}" for i in range(raters)]
    sets = []
    for per_rater in (pairs_per_rater, test_pairs_per_rater):
        sample, prompt, a, b = _pairs(rng, raters, per_rater, prompts, images_per_prompt)
        p = planted_pair_probs(planted, text, images, prompt, a, b)[np.arange(len(sample)), rater_types[sample]]
        target = (rng.random(len(sample)) < p).astype(np.float32)
        sets.append(LabelSet(text, images, names, pairs=pair_labels(sample, prompt, a, b, target)))
    return PlantedWorld(sets[0], sets[1], planted, rater_types)


def planted_pair_probs(model: Any, text: np.ndarray, images: np.ndarray, prompt: Any, a: Any, b: Any) -> np.ndarray:
    """P(a preferred over b | type) under ``model``: (n, K)."""
    with torch.no_grad():
        t = model.text(torch.as_tensor(text))[torch.as_tensor(prompt)]
        i = model.image(torch.as_tensor(images))
        diff = model.score_scale * (t * (i[torch.as_tensor(a)] - i[torch.as_tensor(b)])).sum(-1)
        return torch.sigmoid(diff).double().numpy()


_PROMPTS = ("a cat on a sofa", "a house by a lake", "a tree in a field", "a boat at sea", "a city at night",
            "a bowl of fruit")


def planted_image_labels(raters: int = 8, pairs_per_rater: int = 6, images: int = 24, size: int = 32,
                         seed: int = 0) -> tuple[Any, np.ndarray]:
    """A small planted set over raw prompts and pictures, for the fine-tuning phase.

    Two planted user types: type 0 prefers warm (reddish) pictures, type 1 cool (bluish)
    ones, whatever the prompt. Each picture is a noisy flat colour; every pair puts a warm
    picture against a cool one in random order, and a rater of type z prefers its type's
    side (no label noise). Returns (RawLabelSet, the raters' types)."""
    from PIL import Image

    from pasta_clip_em.labels import RawLabelSet

    rng = np.random.default_rng(seed)
    pictures = []
    for n in range(images):
        strong, weak = int(rng.integers(150, 256)), rng.integers(0, 90, size=2)
        colour = (strong, weak[0], weak[1]) if n % 2 == 0 else (weak[0], weak[1], strong)
        pixels = np.clip(np.array(colour) + rng.normal(0, 12, size=(size, size, 3)), 0, 255).astype(np.uint8)
        pictures.append(Image.fromarray(pixels, "RGB"))
    types = np.arange(raters) % 2
    rows = []
    for rater in range(raters):
        for _ in range(pairs_per_rater):
            warm = 2 * int(rng.integers(images // 2))
            cool = warm + 1
            first, second = (warm, cool) if rng.random() < 0.5 else (cool, warm)
            target = float((first == warm) == (types[rater] == 0))
            rows.append((rater, int(rng.integers(len(_PROMPTS))), first, second, target))
    columns = [np.array(c) for c in zip(*rows)]
    labels = RawLabelSet(list(_PROMPTS), pictures, [f"rater-{r}" for r in range(raters)],
                         pairs=pair_labels(*columns))
    return labels, types
