"""The anthropic generator against a mock HTTP transport (the SDK sends through httpx2)."""

from __future__ import annotations

import pytest
from backends_helpers import ANTHROPIC_KEY, Provider, answer_for, anthropic_body

from pasta_core import get_plugins
from pasta_core.errors import BackendError, InvalidValueError
from pasta_llm import GeneratorFallbackWarning, RetryPolicy, build_prompt

TOOL = "propose_prompt_expansions"


def _anthropic(provider, no_sleep, **options):
    retry = RetryPolicy(sleep=no_sleep)
    return get_plugins().create("generator", "anthropic", http_client=provider.client(), retry=retry, **options)


def _good(body):
    return 200, anthropic_body(answer_for(body["tools"][0]["input_schema"]))


def _error(status, kind):
    return status, {"type": "error", "error": {"type": kind, "message": kind}}


def test_one_request_with_the_exact_body(keys, no_sleep, make_request):
    """A turn is one messages call forcing the one tool whose schema is the answer's."""
    provider = Provider(_good)
    request = make_request(turns=3)
    candidates = _anthropic(provider, no_sleep).generate(request)
    assert len(provider.requests) == 1
    sent = provider.requests[0]
    assert sent.method == "POST" and sent.url.path == "/v1/messages"
    # The SDK chooses the header: x-api-key before anthropic 2, Authorization: Bearer since.
    sent_key = sent.headers.get("x-api-key") or sent.headers.get("authorization", "").removeprefix("Bearer ")
    assert sent_key == ANTHROPIC_KEY
    prompt = build_prompt(request)
    assert provider.bodies[0] == {
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": prompt.user}],
        "model": "claude-haiku-5-5",
        "system": prompt.system,
        "tool_choice": {"type": "tool", "name": TOOL},
        "tools": [{
            "name": TOOL, "description": "Propose the prompt expansions, grouped by category.",
            "input_schema": prompt.schema,
        }],
    }
    assert [c.text for c in candidates] == [t for ts in answer_for(prompt.schema).values() for t in ts]


def test_sampling_options_are_sent_when_set(keys, no_sleep, make_request):
    provider = Provider(_good)
    _anthropic(provider, no_sleep, top_p="0.9", temperature="0.7", model="claude-x", max_tokens="800",
               base_url="http://proxy.invalid").generate(make_request())
    body = provider.bodies[0]
    assert (body["top_p"], body["temperature"], body["model"], body["max_tokens"]) == (0.9, 0.7, "claude-x", 800)
    assert str(provider.requests[0].url) == "http://proxy.invalid/v1/messages"


def test_conformance(keys, no_sleep):
    from pasta_core.testing import check_generator

    check_generator(_anthropic(Provider(_good), no_sleep), max_examples=5)


def test_text_answer_without_the_tool_is_parsed(keys, no_sleep, make_request):
    request = make_request()
    schema = build_prompt(request).schema
    text = "Here:\n```json\n" + __import__("json").dumps(answer_for(schema)) + "\n```"
    provider = Provider((200, anthropic_body(text)))
    assert len(_anthropic(provider, no_sleep).generate(request)) == 25


def test_wrong_counts_are_asked_again(keys, no_sleep, make_request):
    def short(body):
        answer = answer_for(body["tools"][0]["input_schema"])
        answer["style"] = answer["style"][:2]
        return 200, anthropic_body(answer)

    provider = Provider(short, _good)
    assert len(_anthropic(provider, no_sleep).generate(make_request())) == 25
    assert len(provider.requests) == 2
    assert "style: 2 usable candidates, 5 wanted" in provider.bodies[1]["messages"][0]["content"]


@pytest.mark.parametrize("status, kind", [(429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error")])
def test_transient_errors_are_retried(keys, no_sleep, make_request, status, kind):
    provider = Provider(_error(status, kind), _good)
    assert len(_anthropic(provider, no_sleep).generate(make_request())) == 25
    assert len(provider.requests) == 2 and len(no_sleep.waits) == 1


def test_timeouts_exhaust_retries_then_a_clear_error(keys, no_sleep, make_request):
    import httpx2

    provider = Provider(httpx2.ReadTimeout)
    with pytest.raises(BackendError, match="anthropic failed after 3 retries: APITimeoutError"):
        _anthropic(provider, no_sleep, max_retries=3).generate(make_request())
    assert len(provider.requests) == 4 and len(no_sleep.waits) == 3


def test_bad_request_is_not_retried(keys, no_sleep, make_request):
    provider = Provider(_error(400, "invalid_request_error"))
    with pytest.raises(BackendError, match="anthropic request failed: BadRequestError"):
        _anthropic(provider, no_sleep).generate(make_request())
    assert len(provider.requests) == 1


def test_fallback_to_template(keys, no_sleep, make_request):
    provider = Provider(_error(529, "overloaded_error"))
    request = make_request(turns=2)
    gen = _anthropic(provider, no_sleep, fallback="template", max_retries=0)
    with pytest.warns(GeneratorFallbackWarning, match="anthropic generator failed on turn 2"):
        candidates = gen.generate(request)
    assert candidates == get_plugins().create("generator", "template").generate(request)
    assert gen.fallbacks == 1 and gen.fallback_turns == [2]


def test_missing_key_says_what_to_set(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(BackendError, match="set the environment variable ANTHROPIC_API_KEY"):
        get_plugins().create("generator", "anthropic")


def test_key_never_shows_in_errors_or_repr(keys, no_sleep, make_request):
    provider = Provider(_error(401, "authentication_error"))
    gen = _anthropic(provider, no_sleep)
    with pytest.raises(BackendError) as info:
        gen.generate(make_request())
    assert ANTHROPIC_KEY not in str(info.value) and ANTHROPIC_KEY not in repr(gen)


def test_bad_option_is_refused(keys):
    with pytest.raises(InvalidValueError, match="option top_p"):
        get_plugins().create("generator", "anthropic", top_p="2")
