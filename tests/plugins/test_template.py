"""The template generator: categories, history, critiques and the word limit."""

from __future__ import annotations

from pasta_core import DEFAULT_CATEGORIES, Candidate, History, Turn
from pasta_core.protocols import GenerationRequest
from pasta_core.types import word_count
from pasta_template import TemplateGenerator


def _request(history, limit=30, seed=0, per=5):
    return GenerationRequest(history, len(history.turns) + 1, DEFAULT_CATEGORIES, per, limit, seed)


def test_five_categories_of_five():
    cands = TemplateGenerator().generate(_request(History("a white cat")))
    assert len(cands) == 25
    assert {c.category for c in cands} == set(DEFAULT_CATEGORIES)
    assert all("cat" in c.text or "kitty" in c.text for c in cands)


def test_style_candidates_name_a_style():
    from pasta_template.vocab import STYLE

    cands = TemplateGenerator().generate(_request(History("a white cat")))
    styles = [c.text for c in cands if c.category == "style"]
    assert len(styles) == 5
    assert all(any(t.endswith(phrase) for phrase in STYLE) for t in styles)


def test_builds_on_the_last_chosen_prompt():
    chosen = Candidate("a white cat as pixel art", "style")
    turn = Turn([chosen, Candidate("a white cat", "rephrase")], [chosen], 0)
    cands = TemplateGenerator().generate(_request(History("a white cat", [turn])))
    assert sum("pixel art" in c.text for c in cands) >= 20


def test_critique_adds_and_removes():
    chosen = Candidate("a cartoon of a dog", "style")
    turn = Turn([chosen], [chosen], 0, critique="brighter please, no cartoon")
    cands = TemplateGenerator().generate(_request(History("a dog", [turn]), limit=40))
    assert all("cartoon" not in c.text for c in cands)
    assert sum("bright light" in c.text for c in cands) >= 20


def test_word_limit_is_enforced_even_when_tight():
    cands = TemplateGenerator().generate(_request(History("a small red bird on a branch"), limit=6))
    assert all(word_count(c.text) <= 6 for c in cands)
    assert len(cands) == 25


def test_seeded():
    h = History("a lighthouse")
    g = TemplateGenerator()
    assert g.generate(_request(h, seed=1)) == g.generate(_request(h, seed=1))
    assert g.generate(_request(h, seed=1)) != g.generate(_request(h, seed=2))
