"""Template refinements read like a person's: no stacked phrases, no repeated clauses, each
category a different kind of change (issue 19), over the whole PartiPrompts file and over
multi-turn walks drawn by Hypothesis."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasta_core import DEFAULT_CATEGORIES, History, Turn
from pasta_core.protocols import GenerationRequest
from pasta_core.types import word_count
from pasta_template import TemplateGenerator, vocab

LIMIT = 30
_WORDS = re.compile(r"[a-z0-9'\-]+")
_PHRASES = vocab.SLOT_PHRASES
_STYLE_LEADS = [prefix for _, prefix in vocab.STYLES]
# Leading frames of the templates before issue 19, so the checks also know them.
_OLD_FRAMES = ["an image of", "a depiction of", "a scene showing", "a view of", "a rendering of",
               "an artwork of", "a composition featuring", "a clear picture of", "a portrait of",
               "a snapshot of", "a study of"]


def _request(history: History, turn: int, seed: int = 0) -> GenerationRequest:
    return GenerationRequest(history, turn, DEFAULT_CATEGORIES, 5, LIMIT, seed)


def _trigrams(text: str) -> Counter:
    words = _WORDS.findall(text.lower())
    return Counter(zip(words, words[1:], words[2:]))


def _count(text: str, phrases: list[str]) -> int:
    """How many of ``phrases`` ``text`` holds (longest first, each stretch counted once)."""
    lowered, count = f" {text.lower().replace(',', ' ,')} ", 0
    for phrase in sorted(phrases, key=len, reverse=True):
        while f" {phrase} " in lowered:
            lowered, count = lowered.replace(f" {phrase} ", " | ", 1), count + 1
    return count


def _leads(text: str) -> int:
    lowered, count = text.lower(), 0
    leads = sorted(set(vocab.FRAMES + _STYLE_LEADS + _OLD_FRAMES), key=len, reverse=True)
    while any(lowered.startswith(lead + " ") for lead in leads):
        lead = next(lead for lead in leads if lowered.startswith(lead + " "))
        lowered, count = lowered[len(lead) + 1 :], count + 1
    return count


def _styles(text: str) -> int:
    lead = any(text.lower().startswith(p + " ") for p in _STYLE_LEADS)
    return _count(text, vocab.STYLE) + lead


def problems(text: str, intent: str) -> list[str]:
    """What reads as machine-made in ``text`` (refined from ``intent``); empty when none."""
    found = []
    if word_count(text) > LIMIT:
        found.append("over the word limit")
    repeated = [g for g, n in _trigrams(text).items() if n > max(1, _trigrams(intent)[g])]
    if repeated:
        found.append(f"repeated clause {' '.join(repeated[0])!r}")
    for slot, phrases in _PHRASES.items():
        if _count(text, phrases) > max(1, _count(intent, phrases)):
            found.append(f"two {slot} phrases")
    if _styles(text) > max(1, _styles(intent)):
        found.append("two styles")
    if _leads(text) > max(1, _leads(intent)):
        found.append("stacked frames")
    if re.search(r",\s*,|\s{2}|\b(a|an) (a|an|the)\b|\ban (tiny|giant|miniature|huge)\b|\ba enormous\b", text, re.I):
        found.append("broken grammar")
    if text.split()[-1].lower() in ("a", "an", "the", "of", "on", "in", "with"):
        found.append("dangling last word")
    return found


def _prompts():
    from pasta_cli.data import initial_prompts

    return initial_prompts()


def test_first_turn_over_the_whole_prompt_file():
    """Every packaged prompt's 25 first-turn candidates: no problem, and 5 distinct per category."""
    generator = TemplateGenerator()
    bad = []
    for prompt in _prompts():
        candidates = generator.generate(_request(History(prompt), 1))
        assert len(candidates) == 25 and len({c.text for c in candidates}) == 25, prompt
        bad += [(c.text, p) for c in candidates for p in problems(c.text, prompt)]
    assert bad == []


def _kind(category: str, before: str, after: str) -> bool:
    """Whether ``after`` is the kind of change ``category`` promises from ``before``."""
    from pasta_template.prompt import parse

    a, b = parse(before), parse(after)
    changed = {s for s in vocab.SLOTS if a.get(s) != b.get(s)}
    if category == "rephrase":
        return a.slots == b.slots  # same content, other words or order
    if category == "style":
        return changed == {"style"} and a.subject == b.subject
    if category == "mood":
        return changed <= {"light", "tone"} and changed and a.subject == b.subject
    if category == "detail":
        return len(b.slots) > len(a.slots) or changed == {"feature"}
    # twist: the subject varied, or a new form or place
    return (a.subject != b.subject and not changed) or changed <= {"form", "setting"} and changed


def test_each_category_is_a_different_kind_of_change():
    generator = TemplateGenerator()
    for prompt in _prompts()[::7]:
        for candidate in generator.generate(_request(History(prompt), 1)):
            if word_count(prompt) + 8 <= LIMIT:  # room for a phrase: no fallback used
                assert _kind(candidate.category, prompt, candidate.text), (candidate, prompt)


_CRITIQUES = st.sampled_from(["", "brighter please", "no cartoon", "more colorful", "warmer", "make it red", "closer"])


@settings(max_examples=60, deadline=None)
@given(
    intent=st.sampled_from(["a white cat", "a quiet harbour town at dusk", "A red bus is driving on the road",
                            "an oil painting of a fox", "two dogs playing in the snow", "a robot"]),
    picks=st.lists(st.integers(0, 24), min_size=6, max_size=6),
    critiques=st.lists(_CRITIQUES, min_size=6, max_size=6),
    seed=st.integers(0, 1000),
)
def test_six_turn_walks_stay_readable(intent, picks, critiques, seed):
    """Choosing any candidate six turns running, with critiques, never stacks phrases."""
    generator, history = TemplateGenerator(), History(intent)
    for turn, (pick, critique) in enumerate(zip(picks, critiques), start=1):
        candidates = generator.generate(_request(history, turn, seed))
        for candidate in candidates:
            assert problems(candidate.text, intent) == [], candidate
        chosen = candidates[pick % len(candidates)]
        history = History(intent, [*history.turns, Turn(candidates, [chosen], 0, critique=critique or None)])


@pytest.mark.parametrize(
    "text",
    ["a cat as an impressionist painting as an ink drawing", "an image of a study of a cat",
     "a cat, centered in the frame, centered in the frame", "a cat in an enchanted garden in a sunlit meadow"],
)
def test_the_checks_catch_what_the_issue_saw(text):
    assert problems(text, "a cat")
