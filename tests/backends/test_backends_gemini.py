"""The gemini generator against a mock HTTP transport (google-genai sends through httpx2)."""

from __future__ import annotations

import pytest
from backends_helpers import GEMINI_KEY, Provider, answer_for, gemini_body

from pasta_core import get_plugins
from pasta_core.errors import BackendError
from pasta_llm import GeneratorFallbackWarning, RetryPolicy, build_prompt


def _gemini(provider, no_sleep, **options):
    retry = RetryPolicy(sleep=no_sleep)
    return get_plugins().create("generator", "gemini", http_client=provider.client(), retry=retry, **options)


def test_one_request_with_the_exact_body(keys, no_sleep, make_request):
    """A turn is one generateContent call carrying prompt, schema, top_p 0.9 and the seed."""
    provider = Provider()
    request = make_request(turns=2)
    candidates = _gemini(provider, no_sleep).generate(request)
    assert len(provider.requests) == 1
    sent = provider.requests[0]
    assert sent.method == "POST"
    assert sent.url.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    prompt = build_prompt(request)
    assert provider.bodies[0] == {
        "contents": [{"parts": [{"text": prompt.user}], "role": "user"}],
        "systemInstruction": {"parts": [{"text": prompt.system}], "role": "user"},
        "generationConfig": {
            "temperature": 1.0, "topP": 0.9, "seed": request.seed, "candidateCount": 1,
            "responseMimeType": "application/json", "responseJsonSchema": prompt.schema,
        },
    }
    assert [c.text for c in candidates] == [t for ts in answer_for(prompt.schema).values() for t in ts]


def test_options_reach_the_request(keys, no_sleep, make_request):
    provider = Provider()
    gen = _gemini(provider, no_sleep, model="gemini-x", temperature="0.3", top_p="0.5",
                  max_output_tokens="900", base_url="http://proxy.invalid/")
    gen.generate(make_request())
    config = provider.bodies[0]["generationConfig"]
    assert (config["temperature"], config["topP"], config["maxOutputTokens"]) == (0.3, 0.5, 900)
    assert str(provider.requests[0].url).startswith("http://proxy.invalid/")
    assert "models/gemini-x:generateContent" in str(provider.requests[0].url)


def test_conformance(keys, no_sleep):
    from pasta_core.testing import check_generator

    check_generator(_gemini(Provider(), no_sleep), max_examples=5)


def test_malformed_answer_is_asked_again(keys, no_sleep, make_request):
    provider = Provider((200, gemini_body("Sorry, I cannot do JSON.")), lambda b: (200, gemini_body(answer_for(
        b["generationConfig"]["responseJsonSchema"]))))
    candidates = _gemini(provider, no_sleep).generate(make_request())
    assert len(candidates) == 25 and len(provider.requests) == 2
    assert "the answer is not JSON" in provider.bodies[1]["contents"][0]["parts"][0]["text"]


def test_rate_limit_is_retried_with_backoff(keys, no_sleep, make_request):
    limited = (429, {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})
    provider = Provider(limited, limited, lambda b: (200, gemini_body(answer_for(
        b["generationConfig"]["responseJsonSchema"]))))
    assert len(_gemini(provider, no_sleep).generate(make_request())) == 25
    assert len(provider.requests) == 3
    assert len(no_sleep.waits) == 2 and 0.5 <= no_sleep.waits[0] <= 1.0 <= no_sleep.waits[1] <= 2.0


def test_server_errors_exhaust_retries_then_a_clear_error(keys, no_sleep, make_request):
    provider = Provider((503, {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}))
    with pytest.raises(BackendError, match=r"gemini failed after 2 retries.*fallback=template"):
        _gemini(provider, no_sleep, max_retries="2").generate(make_request())
    assert len(provider.requests) == 3


def test_timeouts_are_retried(keys, no_sleep, make_request):
    import httpx2

    provider = Provider(httpx2.ReadTimeout, lambda b: (200, gemini_body(answer_for(
        b["generationConfig"]["responseJsonSchema"]))))
    assert len(_gemini(provider, no_sleep).generate(make_request())) == 25
    assert len(provider.requests) == 2


def test_client_errors_are_not_retried(keys, no_sleep, make_request):
    provider = Provider((400, {"error": {"code": 400, "message": "bad schema", "status": "INVALID_ARGUMENT"}}))
    with pytest.raises(BackendError, match="gemini request failed: ClientError: 400"):
        _gemini(provider, no_sleep).generate(make_request())
    assert len(provider.requests) == 1 and not no_sleep.waits


def test_fallback_to_template(keys, no_sleep, make_request):
    provider = Provider((500, {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}))
    gen = _gemini(provider, no_sleep, fallback="template", max_retries="1")
    request = make_request()
    with pytest.warns(GeneratorFallbackWarning, match="gemini generator failed on turn 1"):
        candidates = gen.generate(request)
    assert candidates == get_plugins().create("generator", "template").generate(request)
    assert len(provider.requests) == 2
    assert gen.fallbacks == 1 and gen.fallback_turns == [request.turn]


def test_fallback_comes_from_the_plugin_set_it_was_created_from(keys, no_sleep, make_request, monkeypatch):
    """A private plugin set's ``template`` answers the failed turn; no global set is touched."""
    import pasta_core
    import pasta_core.plugins
    import pasta_gemini
    from pasta_core.plugins import Plugins, plugin_module
    from pasta_core.testing import FakeGenerator

    def pasta_register_generators(register):
        register("template", FakeGenerator)

    mine = Plugins(entry_points=None, extra=[pasta_gemini, plugin_module("mine", pasta_register_generators=pasta_register_generators)])

    def no_global(*args, **kwargs):
        raise AssertionError("get_plugins() called by a component")

    monkeypatch.setattr(pasta_core.plugins, "get_plugins", no_global)
    monkeypatch.setattr(pasta_core, "get_plugins", no_global)
    provider = Provider((500, {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}))
    gen = mine.create("generator", "gemini", http_client=provider.client(), retry=RetryPolicy(max_retries=0, sleep=no_sleep),
                      fallback="template")
    request = make_request()
    with pytest.warns(GeneratorFallbackWarning, match="using the template generator"):
        assert gen.generate(request) == FakeGenerator().generate(request)
    assert gen.fallback_turns == [request.turn]


def test_missing_key_says_what_to_set(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(BackendError, match="set the environment variable GEMINI_API_KEY or GOOGLE_API_KEY"):
        get_plugins().create("generator", "gemini")


def test_google_api_key_is_accepted(monkeypatch, no_sleep, make_request):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-1")
    provider = Provider()
    _gemini(provider, no_sleep).generate(make_request())
    assert provider.requests[0].headers["x-goog-api-key"] == "google-key-1"


def test_key_never_shows_in_errors_or_repr(keys, no_sleep, make_request):
    provider = Provider((401, {"error": {"code": 401, "message": "bad key", "status": "UNAUTHENTICATED"}}))
    gen = _gemini(provider, no_sleep)
    with pytest.raises(BackendError) as info:
        gen.generate(make_request())
    assert GEMINI_KEY not in str(info.value) and GEMINI_KEY not in repr(gen)


@pytest.mark.parametrize("option, value", [("temperature", "hot"), ("top_p", "1.5"), ("max_retries", "-1")])
def test_bad_options_are_refused(keys, option, value):
    from pasta_core.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match=f"option {option}"):
        get_plugins().create("generator", "gemini", **{option: value})
