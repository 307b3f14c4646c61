"""The ``template`` candidate generator: seeded, offline prompt expansions.

Each turn it expands the last chosen prompt (the intent on turn 1) in five categories:
``rephrase`` (same meaning, other words), ``detail`` (an added detail), ``style`` (an art
style), ``mood`` (lighting and mood) and ``twist`` (a subject variation or creative twist).
A critique steers it: words it knows ("brighter", "more colorful", "no cartoon") add or
remove phrases. Every candidate respects the turn's word limit.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from pasta_core import hookimpl
from pasta_core.protocols import GenerationRequest
from pasta_core.types import Candidate, History, word_count
from pasta_template import vocab

_WORD = re.compile(r"[a-z0-9'\-]+")
_COLOURS = frozenset(
    "red orange yellow green blue purple pink brown black white gray grey gold silver teal".split()
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def critique_terms(history: History) -> tuple[list[str], set[str]]:
    """Phrases the critiques ask for, and words they ask to drop."""
    wanted: list[str] = []
    unwanted: set[str] = set()
    for critique in history.critiques:
        words = _words(critique)
        for i, word in enumerate(words):
            negated = any(w in vocab.NEGATIONS for w in words[max(0, i - 2) : i])
            if negated:
                unwanted.add(word)
            elif word in vocab.CRITIQUE_WANTS:
                wanted.append(vocab.CRITIQUE_WANTS[word])
            elif word in _COLOURS:
                wanted.append(f"in {word} tones")
    return list(dict.fromkeys(wanted)), unwanted


def _drop_words(text: str, unwanted: set[str]) -> str:
    kept = [w for w in text.split() if w.lower().strip(",.") not in unwanted]
    return " ".join(kept) if kept else text


def _rephrase(base: str, rng: np.random.Generator) -> list[str]:
    swapped = " ".join(vocab.SYNONYMS.get(w.lower(), w) for w in base.split())
    texts = [t.format(p=base) for t in vocab.REPHRASE]
    texts += [t.format(p=swapped) for t in vocab.REPHRASE if swapped != base]
    if swapped != base:
        texts.append(swapped)
    return [texts[i] for i in rng.permutation(len(texts))]


def _extend(base: str, phrases: list[str], rng: np.random.Generator) -> list[str]:
    present = set(_words(base))
    fresh = [p for p in phrases if not set(_words(p)) <= present]
    return [f"{base} {fresh[i]}" for i in rng.permutation(len(fresh))]


class TemplateGenerator:
    """Seeded template generator (the embedded default ``CandidateGenerator``)."""

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        history = request.history
        wanted, unwanted = critique_terms(history)
        base = _drop_words(history.last_prompt, unwanted)
        result: list[Candidate] = []
        for index, category in enumerate(request.categories):
            rng = np.random.default_rng([request.seed, request.turn, index])
            texts = self._texts(category, base, rng)
            texts = [self._with_wanted(t, wanted, request.word_limit) for t in texts]
            texts = [t for t in texts if not set(_words(t)) & unwanted - set(_words(base))]
            result += self._pick(texts, request.per_category, request.word_limit, category, base)
        return result

    @staticmethod
    def _texts(category: str, base: str, rng: np.random.Generator) -> list[str]:
        if category == "rephrase":
            return _rephrase(base, rng)
        phrases = vocab.CATEGORY_PHRASES.get(category)
        if phrases is None:  # a category we have no list for: draw from all lists
            phrases = [p for ps in vocab.CATEGORY_PHRASES.values() for p in ps]
        return _extend(base, phrases, rng)

    @staticmethod
    def _with_wanted(text: str, wanted: list[str], limit: int) -> str:
        for phrase in wanted:
            if phrase.lower() not in text.lower() and word_count(text) + word_count(phrase) <= limit:
                text = f"{text} {phrase}"
        return text

    @staticmethod
    def _pick(texts: list[str], count: int, limit: int, category: str, base: str) -> list[Candidate]:
        chosen: list[str] = []
        for text in texts:
            if word_count(text) <= limit and text not in chosen:
                chosen.append(text)
            if len(chosen) == count:
                break
        words = base.split()[:limit]
        # Too tight a limit for any phrase: fall back to shortened forms of the prompt itself.
        while len(chosen) < count and words:
            candidate = " ".join(words)
            if candidate not in chosen:
                chosen.append(candidate)
            words = words[:-1]
        return [Candidate(t, category) for t in chosen]


def _factory(**options: Any) -> TemplateGenerator:
    if options:
        from pasta_core.errors import InvalidValueError

        raise InvalidValueError(f"the template generator takes no options, got {sorted(options)}")
    return TemplateGenerator()


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("template", _factory, "offline seeded templates in 5 categories (default)")
