"""An example PASTA plugin: the ``palette`` generator and the ``topk`` aggregator."""

from __future__ import annotations

from typing import Any

import numpy as np

from pasta_core import Candidate, InvalidValueError, hookimpl
from pasta_core.protocols import GenerationRequest

PALETTES = [
    "teal and orange", "black and gold", "pastel pink and mint", "deep blue and silver",
    "red and cream", "emerald and ivory", "purple and amber", "earthy browns and greens",
    "monochrome grey", "sunset orange and violet", "navy and white", "lime and charcoal",
]


class PaletteGenerator:
    """Appends ``in <palette> tones`` to the last chosen prompt."""

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        base = request.history.last_prompt
        rng = np.random.default_rng([request.seed, request.turn])
        order = [PALETTES[i] for i in rng.permutation(len(PALETTES))]
        result: list[Candidate] = []
        for c, category in enumerate(request.categories):
            texts: list[str] = []
            for i in range(len(order)):
                text = f"{base} in {order[(c * request.per_category + i) % len(order)]} tones"
                if len(text.split()) <= request.word_limit and text not in texts:
                    texts.append(text)
                if len(texts) == request.per_category:
                    break
            words = base.split()[: request.word_limit]
            while len(texts) < request.per_category and words:
                texts.append(" ".join(words))
                words = words[:-1]
            result += [Candidate(t, category) for t in texts]
        return result


class TopKAggregator:
    """Mean of the ``k`` best image scores of a column."""

    def __init__(self, k: int | str = 2) -> None:
        self.k = int(k)
        if self.k < 1:
            raise InvalidValueError(f"topk needs k >= 1, got {self.k}")

    def __call__(self, scores: Any) -> Any:
        if type(scores).__module__.startswith("torch"):
            k = min(self.k, scores.shape[-1])
            return scores.topk(k, dim=-1).values.mean(dim=-1)
        scores = np.asarray(scores)
        k = min(self.k, scores.shape[-1])
        return np.sort(scores, axis=-1)[..., -k:].mean(axis=-1)


def _palette(**options: Any) -> PaletteGenerator:
    if options:
        raise InvalidValueError(f"palette takes no options, got {sorted(options)}")
    return PaletteGenerator()


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("palette", _palette, "adds named colour palettes (example plugin)")


@hookimpl
def pasta_register_aggregators(register: Any) -> None:
    register("topk", TopKAggregator, "mean of the k best images (example plugin)")
