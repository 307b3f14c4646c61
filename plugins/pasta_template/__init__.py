"""The ``template`` candidate generator: seeded, offline prompt refinements.

Each turn it refines the last chosen prompt (the intent on turn 1) in five categories, each a
different kind of change: ``rephrase`` (the same content in other words or another order),
``detail`` (one more concrete detail: a feature, a setting or a view), ``style`` (another art
style, replacing the old one), ``mood`` (another light or colour tone, replacing the old one)
and ``twist`` (a subject variation or a creative twist: a new form or an unexpected place).
The prompt holds one phrase per slot (:mod:`pasta_template.prompt`), so refinements replace
rather than stack. A critique steers it: words it knows ("brighter", "more colorful", "no
cartoon") set or remove phrases. Every candidate respects the turn's word limit.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from pasta_core import hookimpl
from pasta_core.protocols import GenerationRequest
from pasta_core.types import Candidate, History, word_count
from pasta_template import vocab
from pasta_template.prompt import Prompt, compose, parse, unframed, vary_subject

_WORD = re.compile(r"[a-z0-9'\-]+")


_DANGLING = frozenset("a an the of on in at to with by for and or from under near".split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _trigrams(text: str) -> Counter:
    words = _words(text)
    return Counter(zip(words, words[1:], words[2:]))


def _repeats(text: str, base: str) -> bool:
    """Whether ``text`` says a three-word clause twice that ``base`` says once at most."""
    before = _trigrams(base)
    return any(n > max(1, before[g]) for g, n in _trigrams(text).items())


def critique_terms(history: History) -> tuple[list[tuple[str, str]], set[str]]:
    """(slot, phrase) pairs the critiques ask for, and words they ask to drop."""
    wanted: list[tuple[str, str]] = []
    unwanted: set[str] = set()
    for critique in history.critiques:
        words = _words(critique)
        for i, word in enumerate(words):
            negated = any(w in vocab.NEGATIONS for w in words[max(0, i - 2) : i])
            if negated:
                unwanted.add(word)
            elif word in vocab.CRITIQUE_WANTS:
                wanted.append(vocab.CRITIQUE_WANTS[word])
            elif word in vocab.COLOURS:
                wanted.append(("tone", f"in {word} tones"))
    return list(dict.fromkeys(wanted)), unwanted


def _steered(base: Prompt, wanted: list[tuple[str, str]], unwanted: set[str]) -> Prompt:
    """``base`` with the critiques' phrases set and the phrases holding unwanted words removed."""
    for slot, phrase in base.slots:
        if set(_words(phrase)) & unwanted:
            base = base.with_slot(slot, None)
    kept = [w for w in base.subject.split() if w.lower().strip(",.") not in unwanted]
    if kept and kept[-1].lower() not in ("a", "an", "the", "of"):
        base = Prompt(" ".join(kept), base.slots, base.frame, base.style_first, base.setting_first)
    for slot, phrase in wanted:
        if not set(_words(phrase)) & unwanted:
            base = base.with_slot(slot, phrase)
    return base


def _rephrasings(base: Prompt) -> list[Prompt]:
    """The same content written otherwise: synonyms, a frame added or dropped, the style or
    the setting moved to the front or back."""
    swapped = " ".join(vocab.SYNONYMS.get(w.lower(), w) for w in base.subject.split())
    subjects = [base.subject] + ([swapped] if swapped != base.subject else [])
    frames = [] if base.framed else [f for f in vocab.FRAMES if f != base.frame]
    found = []
    if base.framed:  # "a portrait of an old man" -> "an old man, as a portrait"
        subjects += [t for s in list(subjects) for t in unframed(s)]
    for subject in subjects:
        prompt = Prompt(subject, base.slots, base.frame, base.style_first, base.setting_first)
        found.append(prompt)
        found += [Prompt(subject, base.slots, f, False, base.setting_first) for f in frames]
        if base.get("style") and not base.framed:
            found.append(Prompt(subject, base.slots, "", not base.style_first, base.setting_first))
        if base.get("setting"):
            found.append(Prompt(subject, base.slots, base.frame, base.style_first, not base.setting_first))
    return found


def _set(base: Prompt, slot: str, phrases: list[str]) -> list[Prompt]:
    """``base`` with ``slot`` set to each phrase that repeats none of its subject's words."""
    return [base.with_slot(slot, p) for p in phrases if p != base.get(slot) and not base.shares_words(p)]


def _variations(base: Prompt, taken: set[str]) -> list[Prompt]:
    """Subject variations ("a tiny white cat") and creative twists (a form, a place)."""
    found = []
    for word in vocab.VARIATIONS:
        subject = vary_subject(base.subject, word)
        if subject is not None:
            found.append(Prompt(subject, base.slots, base.frame, base.style_first, base.setting_first))
    found += _set(base, "form", vocab.FORM) if "form" not in taken else []
    return found + (_set(base, "setting", vocab.CREATIVE_SETTING) if "setting" not in taken else [])


def _refinements(category: str, base: Prompt) -> list[Prompt]:
    taken = base.in_subject()
    if category == "rephrase":
        return _rephrasings(base)
    if category == "twist":
        return _variations(base, taken)
    if category == "detail":
        open_slots = [s for s in ("feature", "setting", "view") if s not in taken and not base.get(s)]
        phrases = {"feature": vocab.FEATURE, "setting": vocab.SETTING, "view": vocab.VIEW}
        return [p for s in open_slots or ["view"] for p in _set(base, s, phrases[s])]
    if category == "style":
        return _set(base, "style", vocab.STYLE)
    if category == "mood":
        return [p for s in ("light", "tone") if s not in taken for p in _set(base, s, getattr(vocab, s.upper()))]
    # A category we have no list for: any kind of change.
    return [p for c in ("detail", "style", "mood", "twist") for p in _refinements(c, base)]


class TemplateGenerator:
    """Seeded template generator (the embedded default ``CandidateGenerator``)."""

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        history = request.history
        wanted, unwanted = critique_terms(history)
        base = _steered(parse(history.last_prompt), wanted, unwanted)
        base_text = compose(base)
        result: list[Candidate] = []
        for index, category in enumerate(request.categories):
            rng = np.random.default_rng([request.seed, request.turn, index])
            options = _refinements(category, base)
            texts = [compose(options[i]) for i in rng.permutation(len(options))]
            allowed = set(_words(base_text))
            texts = [t for t in texts if t != base_text and not set(_words(t)) & unwanted - allowed]
            texts = [t for t in texts if not _repeats(t, base_text)]
            result += self._pick(texts, request.per_category, request.word_limit, category, base)
        return result

    @staticmethod
    def _pick(texts: list[str], count: int, limit: int, category: str, base: Prompt) -> list[Candidate]:
        chosen: list[str] = []
        for text in texts:
            if word_count(text) <= limit and text not in chosen:
                chosen.append(text)
            if len(chosen) == count:
                break
        # Too few refinements (a tight limit): the prompt with fewer phrases, then shortened
        # (ending on "a", "of", "on", ... only as a last resort).
        fallbacks = [compose(Prompt(base.subject, base.slots[:k])) for k in range(len(base.slots), -1, -1)]
        words = base.subject.split()[:limit]
        cuts = [" ".join(words[:k]) for k in range(len(words), 0, -1)]
        fallbacks += [t for t in cuts if t.split()[-1].lower() not in _DANGLING] + cuts
        for text in fallbacks:
            if len(chosen) == count:
                break
            if word_count(text) <= limit and text not in chosen:
                chosen.append(text)
        return [Candidate(t, category) for t in chosen]


def _factory(**options: Any) -> TemplateGenerator:
    if options:
        from pasta_core.errors import InvalidValueError

        raise InvalidValueError(f"the template generator takes no options, got {sorted(options)}")
    return TemplateGenerator()


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("template", _factory, "offline seeded templates in 5 categories (default)")
