"""A world where the right slate is known, for tests and ``benchmarks/bench_iql.py``.

Every word of a small vocabulary has a hidden worth; a prompt's worth is the mean worth
of its words. Each turn offers ``categories x per_category`` fresh candidates (random
word strings), the simulated person chooses a column with probability
softmax(worth / temperature), and the sparse reward at the final turn is the mean worth
of the chosen prompts of all turns. Under that reward the best slate of every turn holds
the highest-worth candidate of each of the L best categories (a known answer), which the
``oracle_selector`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from pasta_core.types import Candidate, History, Trajectory, Turn

WORDS = (
    "red blue green golden silver dark bright misty sunny stormy calm wild ancient modern "
    "tiny huge soft sharp glowing faded cat dog horse castle forest river mountain city "
    "garden ocean desert bridge tower village meadow lantern robot dragon flower cloud "
    "painting photo sketch watercolor neon pastel marble velvet crystal wooden"
).split()


@attrs.define
class WordWorld:
    """Hidden word worths, the candidate generator and the person's choice rule."""

    words: int = 40
    categories: int = 5
    per_category: int = 5
    slate_size: int = 4
    turns: int = 3
    prompt_words: int = 3
    temperature: float = 0.1
    seed: int = 0
    vocab: list[str] = attrs.field(init=False)
    worths: dict[str, float] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        if not 1 <= self.words <= len(WORDS):
            raise ValueError(f"words must be 1..{len(WORDS)}")
        names = [str(w) for w in rng.choice(WORDS, size=self.words, replace=False)]
        self.vocab = names
        self.worths = dict(zip(names, rng.normal(size=self.words).tolist()))

    def worth(self, text: str) -> float:
        return float(np.mean([self.worths[w] for w in text.split()[1:]]))

    def candidates(self, rng: np.random.Generator) -> list[Candidate]:
        out = []
        for c in range(self.categories):
            for _ in range(self.per_category):
                words = rng.choice(self.vocab, size=self.prompt_words, replace=False)
                out.append(Candidate(f"cat{c} " + " ".join(words), f"cat{c}"))
        return list(dict.fromkeys(out))

    def choose(self, slate: Sequence[Candidate], rng: np.random.Generator) -> int:
        w = np.array([self.worth(c.text) for c in slate]) / self.temperature
        p = np.exp(w - w.max())
        return int(rng.choice(len(slate), p=p / p.sum()))

    def episode(self, selector: Any, prompt: str, seed: int, session_id: str = "s") -> Trajectory:
        """One session with ``selector``; sparse reward = mean worth of the chosen prompts."""
        rng = np.random.default_rng(seed)
        history = History(prompt)
        chosen: list[float] = []
        for t in range(self.turns):
            candidates = self.candidates(rng)
            slate = selector.select(history, candidates, self.slate_size, int(rng.integers(2**31)))
            choice = self.choose(slate, rng)
            chosen.append(self.worth(slate[choice].text))
            reward = float(np.mean(chosen)) if t == self.turns - 1 else 0.0
            history = history.append(Turn(candidates, slate, choice, reward=reward))
        return Trajectory(session_id, prompt, history.turns)

    def episodes(self, selector: Any, count: int, seed: int) -> list[Trajectory]:
        return [self.episode(selector, f"prompt {i % 7}", seed * 1_000_003 + i, f"s{i}") for i in range(count)]


class OracleSelector:
    """Knows the worths: the highest-worth candidate of each of the L best categories."""

    def __init__(self, world: WordWorld) -> None:
        self.world = world

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        from pasta_value.selector import top_slate

        scores = np.array([self.world.worth(c.text) for c in candidates])
        return [candidates[i] for i in top_slate(scores, [c.category for c in candidates], slate_size)]
