"""Small, fast, deterministic stand-ins for every component, for plugin authors' tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.protocols import GenerationRequest
from pasta_core.types import Candidate, Column, History


def _colour(text: str) -> tuple[int, int, int]:
    digest = hashlib.blake2b(text.encode(), digest_size=3).digest()
    return digest[0], digest[1], digest[2]


class FakeGenerator:
    """``"<last prompt>, <category> <i>"`` for each category, cut to the word limit."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        self.requests.append(request)
        base = request.history.last_prompt.split()
        result = []
        for category in request.categories:
            for i in range(request.per_category):
                words = [*base, category, str(i)][-request.word_limit :]
                result.append(Candidate(" ".join(words), category))
        return result


class FakeSelector:
    """Last candidate of each category (differs from ``first`` so tests can tell)."""

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        last: dict[str, Candidate] = {}
        for candidate in candidates:
            last[candidate.category] = candidate
        return list(last.values())[:slate_size]


class FakeT2I:
    """A flat-colour image per (prompt, seed), colour from the prompt, a seed-dependent dot."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.calls: list[int] = []

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        from PIL import Image, ImageDraw

        self.calls.append(len(prompts))
        images = []
        for prompt, seed in zip(prompts, seeds):
            image = Image.new("RGB", (self.size, self.size), _colour(prompt))
            x = int(seed) % self.size
            ImageDraw.Draw(image).point((x, x), fill=(255, 255, 255))
            images.append(image)
        return images


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class FakeUserModel:
    """K types; type k likes the k-th colour channel (mod 3) of an image. A column's utility
    is its images' mean score; P(column) = softmax(``choice_scale`` * utility)."""

    def __init__(self, types: int = 3, choice_scale: float = 5.0) -> None:
        self.choice_scale = float(choice_scale)
        self._k = types

    @property
    def num_types(self) -> int:
        return self._k

    @property
    def prior(self) -> np.ndarray:
        return np.full(self._k, 1.0 / self._k)

    def scores(self, intent: str, images: Sequence[Any]) -> np.ndarray:
        means = np.array([np.asarray(im.convert("RGB"), np.float64).mean(axis=(0, 1)) / 255 for im in images])
        means = means.reshape(-1, 3)
        return np.stack([means[:, k % 3] for k in range(self._k)])

    def utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        return np.stack([self.scores(intent, c.images).mean(axis=-1) for c in columns], axis=1)

    def choice_probabilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        return _softmax(self.choice_scale * self.utilities(intent, columns))

    def posterior(self, intent: str, observed: Sequence[tuple[Sequence[Column], int]]) -> np.ndarray:
        log_post = np.log(self.prior)
        for columns, choice in observed:
            log_post = log_post + np.log(np.maximum(self.choice_probabilities(intent, columns)[:, choice], 1e-300))
        return _softmax(log_post)
