"""pasta_llm (the LLM generators' shared library): prompt, schema, answer repair, retries
and fallback."""

from __future__ import annotations

import json
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasta_core import get_plugins
from pasta_core.errors import BackendError, InvalidValueError
from pasta_core.types import word_count
from pasta_llm import (
    FALLBACKS,
    Fallback,
    GeneratorFallbackWarning,
    LLMGenerator,
    RetryPolicy,
    answer_schema,
    build_prompt,
    decode_json,
    fallback_from_option,
    parse_answer,
    shorten,
)


def _good(request, tag=""):
    return {c: [f"a {c} prompt {tag}{i}" for i in range(request.per_category)] for c in request.categories}


class Flaky(Exception):
    pass


def test_prompt_holds_history_categories_count_and_word_limit(make_request):
    """The history, every category, the count and the word limit are in the prompt."""
    request = make_request(turns=3, per_category=4, word_limit=17)
    prompt = build_prompt(request)
    assert '"a white cat"' in prompt.user
    assert 'Turn 1: the person chose "a white cat, turn 0 detail"' in prompt.user
    assert 'Turn 1 critique: "more blue"' in prompt.user
    assert "Turn 2 critique" not in prompt.user
    assert 'expansions of "a white cat, turn 1 detail"' in prompt.user
    for category in request.categories:
        assert f"- {category}: " in prompt.user
    assert "at most 17 words" in prompt.user and "exactly 4 strings" in prompt.user
    assert prompt.seed == request.seed and prompt.schema == answer_schema(request.categories, 4)


def test_prompt_lists_problems_when_asking_again(make_request):
    prompt = build_prompt(make_request(), ["style: 3 usable candidates, 5 wanted"])
    assert prompt.user.endswith("- style: 3 usable candidates, 5 wanted\nAnswer again, fixing these problems.")


def test_schema_fixes_the_count_per_category():
    schema = answer_schema(("a", "b"), 3)
    assert schema["required"] == ["a", "b"]
    assert schema["properties"]["a"] == {
        "type": "array", "items": {"type": "string", "description": "a complete image prompt"},
        "minItems": 3, "maxItems": 3,
    }


def test_good_answer_parses_in_order(make_request):
    request = make_request()
    parsed = parse_answer(json.dumps(_good(request)), request)
    assert parsed.complete and not parsed.repairs
    assert [(c.category, c.text) for c in parsed.candidates][:2] == [
        ("rephrase", "a rephrase prompt 0"), ("rephrase", "a rephrase prompt 1")
    ]
    assert len(parsed.candidates) == 25


@pytest.mark.parametrize(
    "wrap", ["```json\n{}\n```", "Here you go:\n{}\nEnjoy!", "{}"]
)
def test_json_in_fences_or_prose_is_recovered(make_request, wrap):
    request = make_request()
    parsed = parse_answer(wrap.replace("{}", json.dumps(_good(request))), request)
    assert parsed.complete and len(parsed.candidates) == 25


def test_list_shape_and_loose_category_names_are_accepted(make_request):
    request = make_request(per_category=2)
    items = [{"category": f" {c.upper()}s", "text": f"{c} {i}"} for c in request.categories for i in range(2)]
    parsed = parse_answer({"candidates": items}, request)
    assert parsed.complete and {c.category for c in parsed.candidates} == set(request.categories)


def test_safe_repairs(make_request):
    """Extra, duplicate, empty, numbered and quoted candidates and unknown categories are repaired."""
    request = make_request(per_category=2, word_limit=6)
    answer = _good(request)
    answer["rephrase"] = ["1. a cat", '"a cat"', "", 5, "a kitten", "a third one"]
    answer["style"] = ["a cat in oil paint, with gold frame and soft light", "a cat, sketch"]
    answer["bogus"] = ["x"]
    parsed = parse_answer(answer, request)
    assert parsed.complete
    texts = {c.category: [] for c in parsed.candidates}
    for c in parsed.candidates:
        texts[c.category].append(c.text)
    assert texts["rephrase"] == ["a cat", "a kitten"]
    assert texts["style"] == ["a cat in oil paint", "a cat, sketch"]
    assert any("unknown categories ['bogus']" in r for r in parsed.repairs)
    assert all(word_count(c.text) <= 6 for c in parsed.candidates)


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda a: a.update(style=a["style"][:3]), "style: 3 usable candidates, 5 wanted"),
        (lambda a: a.update(mood=["same"] * 5), "mood: 1 usable candidates, 5 wanted"),
        (lambda a: a.pop("twist"), "twist: 0 usable candidates, 5 wanted"),
        (lambda a: a["detail"].__setitem__(0, " ".join(["word"] * 20)), "over the 12-word limit"),
    ],
)
def test_unsafe_answers_are_reported(make_request, change, problem):
    request = make_request()
    answer = _good(request)
    change(answer)
    parsed = parse_answer(answer, request)
    assert not parsed.complete
    assert any(problem in p for p in parsed.problems), parsed.problems


@pytest.mark.parametrize("raw", ["not json at all", "{broken", "42", ""])
def test_non_json_is_a_problem(make_request, raw):
    parsed = parse_answer(raw, make_request())
    assert not parsed.complete and parsed.problems


def test_decode_json_rejects_prose():
    with pytest.raises(InvalidValueError):
        decode_json("no braces here")


@given(st.lists(st.sampled_from(["cat", "red,", "sky;", "big", "tree"]), min_size=1, max_size=30), st.integers(1, 15))
def test_shorten_stays_within_the_limit(words, limit):
    text = " ".join(words)
    cut = shorten(text, limit)
    if cut is not None:
        assert word_count(cut) <= limit and text.startswith(cut)
        assert not cut.endswith((",", ";"))


def test_retry_delays_double_and_stay_bounded():
    policy = RetryPolicy(max_retries=8, base_delay=1.0, max_delay=5.0)
    delays = [policy.delay(a) for a in range(8)]
    assert all(0.5 * min(5.0, 2**a) <= d <= min(5.0, 2**a) for a, d in enumerate(delays))


def test_retry_policy_retries_only_transient_errors(no_sleep):
    calls = []

    def fn():
        calls.append(1)
        raise Flaky() if len(calls) < 3 else ValueError("final")

    policy = RetryPolicy(max_retries=5, sleep=no_sleep)
    with pytest.raises(ValueError):
        policy.call(fn, lambda e: isinstance(e, Flaky))
    assert len(calls) == 3 and len(no_sleep.waits) == 2


def _generator(answers, no_sleep, fallback="none", max_retries=2):
    sent = []

    def ask(prompt):
        sent.append(prompt)
        answer = answers[min(len(sent), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    gen = LLMGenerator("fake", ask, lambda e: isinstance(e, Flaky),
                       RetryPolicy(max_retries=max_retries, sleep=no_sleep),
                       fallback=fallback_from_option(fallback, get_plugins()))
    return gen, sent


def test_generator_asks_again_with_the_problems(make_request, no_sleep):
    request = make_request()
    gen, sent = _generator(["garbage", _good(request)], no_sleep)
    assert len(gen.generate(request)) == 25
    assert gen.requests == 2 and "could not be used" in sent[1].user


def test_generator_gives_up_with_a_clear_error(make_request, no_sleep):
    gen, sent = _generator(["garbage"], no_sleep)
    with pytest.raises(BackendError, match="no usable answer after 3 tries.*fallback=template"):
        gen.generate(make_request())
    assert gen.requests == 3 and gen.fallbacks == 0 and gen.fallback_turns == []


def test_generator_retries_transient_errors_then_errors(make_request, no_sleep):
    gen, _ = _generator([Flaky("busy")], no_sleep, max_retries=3)
    with pytest.raises(BackendError, match="failed after 3 retries: Flaky: busy"):
        gen.generate(make_request())
    assert gen.requests == 4 and len(no_sleep.waits) == 3


def test_fallback_to_template_warns_visibly_and_is_recorded(make_request, no_sleep):
    """A turn answered by the fallback is warned about and counted, never passed off silently."""
    request = make_request(turns=2)
    gen, _ = _generator([Flaky("down")], no_sleep, fallback="template")
    assert repr(gen) == "<LLMGenerator fake fallback=template>"
    with pytest.warns(GeneratorFallbackWarning, match="turn 2.*using the template generator"):
        candidates = gen.generate(request)
    assert candidates == get_plugins().create("generator", "template").generate(request)
    assert gen.fallbacks == 1 and gen.fallback_turns == [2]


def test_fallback_is_any_generator_handed_in(make_request, no_sleep):
    from pasta_core.testing import FakeGenerator

    fake = FakeGenerator()
    gen = LLMGenerator("fake", lambda p: "garbage", lambda e: False, max_repairs=0,
                       fallback=Fallback("fake", fake))
    request = make_request()
    with pytest.warns(GeneratorFallbackWarning, match="using the fake generator"):
        assert gen.generate(request) == FakeGenerator().generate(request)
    assert fake.requests == [request] and gen.fallback_turns == [request.turn]


def test_no_fallback_warning_when_the_provider_works(make_request, no_sleep):
    request = make_request()
    gen, _ = _generator([_good(request)], no_sleep, fallback="template")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gen.generate(request)
    assert gen.fallbacks == 0 and gen.fallback_turns == []


def test_fallback_option_values():
    plugins = get_plugins()
    assert FALLBACKS == ("none", "template")
    for none in (None, "", False, "none", " NONE "):
        assert fallback_from_option(none, plugins) is None
    fallback = fallback_from_option("Template", plugins)
    assert fallback.name == "template" and hasattr(fallback.generator, "generate")


def test_unknown_fallback_is_refused():
    with pytest.raises(InvalidValueError, match="fallback must be one of none, template"):
        fallback_from_option("gemini", get_plugins())
    with pytest.raises(InvalidValueError, match="fallback must be a pasta_llm.Fallback"):
        LLMGenerator("x", lambda p: None, lambda e: False, fallback="template")


def test_counters_are_safe_under_concurrent_generate(make_request, no_sleep):
    """Prefetch may call generate from several threads: no request or fallback goes uncounted."""
    from concurrent.futures import ThreadPoolExecutor

    request = make_request()
    gen, _ = _generator([Flaky("down")], no_sleep, fallback="template", max_retries=3)
    with warnings.catch_warnings(), ThreadPoolExecutor(4) as pool:
        warnings.simplefilter("ignore", GeneratorFallbackWarning)
        list(pool.map(lambda _: gen.generate(request), range(40)))
    assert gen.requests == 40 * 4 and gen.fallbacks == 40 and len(gen.fallback_turns) == 40
