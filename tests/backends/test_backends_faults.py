"""Provider faults in the gemini and anthropic generators: pages that are not JSON,
Retry-After, logged retries (the openai generator's are in test_backends_openai.py)."""

from __future__ import annotations

import logging

import pytest
from backends_helpers import Provider, answer_for, anthropic_body, gemini_body

from pasta_core import get_plugins
from pasta_core.errors import BackendError
from pasta_llm import RetryPolicy, retry_after

PAGE = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Sign in to continue</body></html>"


def _anthropic_good(body):
    return 200, anthropic_body(answer_for(body["tools"][0]["input_schema"]))


def _gemini_good(body):
    return 200, gemini_body(answer_for(body["generationConfig"]["responseJsonSchema"]))


def _create(name, provider, no_sleep, **options):
    return get_plugins().create("generator", name, http_client=provider.client(), retry=RetryPolicy(sleep=no_sleep),
                                **options)


@pytest.mark.parametrize("name, shows_page", [("anthropic", True), ("gemini", False)])
def test_an_html_page_with_status_200_is_a_one_line_error(keys, no_sleep, make_request, name, shows_page):
    provider = Provider((200, PAGE))
    with pytest.raises(BackendError) as info:
        _create(name, provider, no_sleep).generate(make_request())
    message = str(info.value)
    assert message.startswith(f"{name}: the server's answer is not the API's JSON") and "check base_url" in message
    assert ("'<!DOCTYPE html> <html><head><title>Sign in" in message) == shows_page
    assert "\n" not in message and len(provider.requests) == 1  # not retried


@pytest.mark.parametrize("name, good, overloaded", [
    ("anthropic", _anthropic_good, (529, {"type": "error", "error": {"type": "overloaded_error", "message": "x"}})),
    ("gemini", _gemini_good, (503, {"error": {"code": 503, "message": "x", "status": "UNAVAILABLE"}})),
])
def test_retry_after_is_honoured_and_each_retry_logged(keys, no_sleep, make_request, caplog, name, good, overloaded):
    status, payload = overloaded
    provider = Provider((status, payload, {"retry-after": "7"}), (429, payload, {"retry-after-ms": "1500"}), good)
    with caplog.at_level(logging.INFO, logger="pasta_llm"):
        assert len(_create(name, provider, no_sleep).generate(make_request())) == 25
    assert no_sleep.waits == [7.0, 1.5]
    lines = [r.getMessage() for r in caplog.records if r.name == "pasta_llm"]
    assert len(lines) == 2 and all(line.startswith(f"{name}: ") for line in lines)
    assert lines[0].endswith(f"{status}; retry 1 of 4 in 7.00 s (the provider's Retry-After)")
    assert lines[1].endswith("429; retry 2 of 4 in 1.50 s (the provider's Retry-After)")


def test_keys_never_show_in_the_retry_log(keys, no_sleep, make_request, caplog):
    from backends_helpers import ANTHROPIC_KEY

    provider = Provider((500, {"type": "error", "error": {"type": "api_error", "message": ANTHROPIC_KEY}}), _anthropic_good)
    with caplog.at_level(logging.DEBUG, logger="pasta_llm"):
        _create("anthropic", provider, no_sleep).generate(make_request())
    assert caplog.records and ANTHROPIC_KEY not in caplog.text


class _Failed(Exception):
    def __init__(self, headers):
        super().__init__("failed")
        self.response = type("Response", (), {"headers": headers})()


@pytest.mark.parametrize("headers, wait", [
    ({"retry-after": "2.5"}, 2.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: no wait
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_retry_after_headers(headers, wait):
    assert retry_after(_Failed(headers)) == wait


def test_a_retry_after_date_in_the_future():
    import email.utils
    import time

    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after(_Failed({"retry-after": later})) <= 30


@pytest.mark.parametrize("name", ["anthropic", "gemini"])
@pytest.mark.parametrize("status", [403, 502])
def test_an_html_error_page_is_one_short_line(keys, no_sleep, make_request, name, status):
    """SDKs put a whole proxy page in their error's text; the error stays one short line."""
    page = "<html>\n<head><title>Forbidden</title></head>\n<body>\n" + "<p>blocked by the proxy</p>\n" * 60 + "</body></html>"
    with pytest.raises(BackendError) as info:
        _create(name, Provider((status, page)), no_sleep, max_retries=1).generate(make_request())
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert message.startswith(f"{name} request failed" if status == 403 else f"{name} failed after 1 retries")
    assert "<title>Forbidden</title>" in message and "set the generator option fallback=template" in message
