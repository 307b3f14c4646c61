"""The openai generator against a stub OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import logging

import pytest
from backends_helpers import answer_for
from openai_stub import StubServer, completion, error, good, schema_of

from pasta_core import get_plugins
from pasta_core.errors import BackendError, InvalidValueError
from pasta_core.protocols import FallbackCandidates
from pasta_llm import GeneratorFallbackWarning, RetryPolicy, build_prompt

KEY = "test-openai-key-0123"


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _openai(server, no_sleep, **options):
    options.setdefault("model", "qwen-vl")
    return get_plugins().create("generator", "openai", base_url=server.url, retry=RetryPolicy(sleep=no_sleep), **options)


def test_one_request_with_the_exact_body(no_key, no_sleep, make_request, monkeypatch):
    """A turn is one chat completion with the JSON schema as response_format."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    request = make_request(turns=3)
    with StubServer() as server:
        candidates = _openai(server, no_sleep, top_p="0.9").generate(request)
    (path, headers, body), = server.seen
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == f"Bearer {KEY}"
    prompt = build_prompt(request)
    assert body == {
        "model": "qwen-vl",
        "messages": [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "prompt_expansions", "schema": prompt.schema}},
        "seed": request.seed,
        "top_p": 0.9,
    }
    assert [c.text for c in candidates] == [t for ts in answer_for(prompt.schema).values() for t in ts]


def test_a_local_server_needs_no_key(no_key, no_sleep, make_request):
    with StubServer() as server:
        assert len(_openai(server, no_sleep).generate(make_request())) == 25
    assert KEY not in json.dumps(server.seen)


def test_openai_itself_needs_the_key(no_key):
    with pytest.raises(BackendError, match="set the environment variable OPENAI_API_KEY"):
        get_plugins().create("generator", "openai")


def test_a_server_of_your_own_needs_a_model_name(no_key):
    with pytest.raises(InvalidValueError, match="option model must name the model the server at base_url serves"):
        get_plugins().create("generator", "openai", base_url="http://127.0.0.1:9/v1")


@pytest.mark.parametrize("kind, sent", [
    ("json_object", {"type": "json_object"}),
    ("none", None),
])
def test_response_format_option(no_key, no_sleep, make_request, kind, sent):
    with StubServer() as server:
        _openai(server, no_sleep, response_format=kind).generate(make_request())
    assert server.bodies[0].get("response_format") == sent


def test_auto_falls_back_to_plain_json_for_good_on_a_400(no_key, no_sleep, make_request):
    """A server without structured output refuses the schema once; later turns ask plainly."""
    def plain_only(body):
        if "response_format" in body:
            return 400, error("response_format is not supported")
        answer = answer_for(schema_of(body))
        return 200, completion("Sure! Here they are:\n```json\n" + json.dumps(answer) + "\n```")

    with StubServer(plain_only) as server:
        generator = _openai(server, no_sleep)
        assert len(generator.generate(make_request())) == 25
        assert len(generator.generate(make_request(turns=2))) == 25
    assert ["response_format" in b for b in server.bodies] == [True, False, False]


def test_a_fixed_format_is_not_downgraded(no_key, no_sleep, make_request):
    with StubServer((400, error("response_format is not supported"))) as server:
        with pytest.raises(BackendError, match=r"openai: the server refused the request \(400: response_format"):
            _openai(server, no_sleep, response_format="json_schema").generate(make_request())
    assert len(server.seen) == 1


def test_wrong_counts_are_asked_again(no_key, no_sleep, make_request):
    def short(body):
        answer = answer_for(schema_of(body))
        answer["mood"] = answer["mood"][:1]
        return 200, completion(json.dumps(answer))

    with StubServer(short, good) as server:
        assert len(_openai(server, no_sleep).generate(make_request())) == 25
    assert len(server.seen) == 2
    assert "mood: 1 usable candidates, 5 wanted" in server.bodies[1]["messages"][1]["content"]


def test_retry_after_is_honoured_capped_and_logged(no_key, no_sleep, make_request, caplog):
    replies = [(429, error("slow down"), {"Retry-After": "3"}), (503, error("busy"), {"retry-after": "600"}), good]
    with StubServer(*replies) as server, caplog.at_level(logging.INFO, logger="pasta_llm"):
        assert len(_openai(server, no_sleep).generate(make_request())) == 25
    assert no_sleep.waits == [3.0, 60.0]  # the second is capped at RetryPolicy.max_retry_after
    lines = [r.getMessage() for r in caplog.records if r.name == "pasta_llm"]
    assert lines == [
        "openai: RateLimitError 429; retry 1 of 4 in 3.00 s (the provider's Retry-After)",
        "openai: InternalServerError 503; retry 2 of 4 in 60.00 s (the provider's Retry-After)",
    ]


def test_without_retry_after_the_backoff_applies(no_key, no_sleep, make_request):
    with StubServer((500, error()), (500, error()), good) as server:
        _openai(server, no_sleep).generate(make_request())
    assert len(no_sleep.waits) == 2 and 0.5 <= no_sleep.waits[0] <= 1.0 and 1.0 <= no_sleep.waits[1] <= 2.0


def test_an_html_page_is_a_one_line_error(no_key, no_sleep, make_request):
    with StubServer((200, "<html><body>\n<h1>Please log in</h1></body></html>")) as server:
        with pytest.raises(BackendError) as info:
            _openai(server, no_sleep).generate(make_request())
    assert "openai: the server's answer is not the API's JSON: '<html><body> <h1>Please log in</h1>" in str(info.value)
    assert "\n" not in str(info.value) and len(server.seen) == 1


def test_a_refusal_is_a_clear_error(no_key, no_sleep, make_request):
    with StubServer((200, completion(None, refusal="I can't help with that."))) as server:
        with pytest.raises(BackendError, match="openai: the model refused: I can't help with that"):
            _openai(server, no_sleep).generate(make_request())


def test_fallback_to_template_is_named_in_the_answer(no_key, no_sleep, make_request):
    request = make_request(turns=2)
    with StubServer((503, error())) as server:
        generator = _openai(server, no_sleep, fallback="template", max_retries=1)
        with pytest.warns(GeneratorFallbackWarning, match="openai generator failed on turn 2"):
            candidates = generator.generate(request)
    assert isinstance(candidates, FallbackCandidates) and candidates.fallback == "template"
    assert list(candidates) == get_plugins().create("generator", "template").generate(request)
    assert len(server.seen) == 2 and generator.fallback_turns == [2]


def test_conformance(no_key, no_sleep):
    from pasta_core.testing import check_generator

    with StubServer() as server:
        check_generator(_openai(server, no_sleep), max_examples=5)


@pytest.mark.parametrize("option, value, message", [
    ("response_format", "xml", "option response_format must be one of auto, json_schema, json_object, none"),
    ("top_p", "2", "option top_p"),
    ("images", "some", "option images must be one of none, chosen, all"),
    ("image_max_side", "tiny", "option image_max_side must be an integer"),
])
def test_bad_options_are_refused(no_key, option, value, message):
    with pytest.raises(InvalidValueError, match=message):
        get_plugins().create("generator", "openai", base_url="http://127.0.0.1:9/v1", model="m", **{option: value})


def test_a_session_records_the_turn_the_fallback_answered(no_key, no_sleep, tmp_path):
    """One request per turn; a turn the provider failed is answered by the template
    generator and recorded as such in the trajectory."""
    from pasta_core import EpisodeConfig
    from pasta_core.session import Session
    from pasta_core.store import read_trajectories

    replies = [good, (503, error()), good]
    with StubServer(*replies) as server:
        session = Session.create("openai", generator_options={
            "base_url": server.url, "model": "vl", "fallback": "template", "max_retries": 0,
        }, config=EpisodeConfig(turns=3), out=tmp_path, session_id="s")
        session.start("a red fox in snow")
        with pytest.warns(GeneratorFallbackWarning):
            session.choose(1)
        session.choose(2)
        session.choose(0)
        session.close()
    (trajectory,) = read_trajectories(tmp_path / "s" / "trajectory.parquet")
    assert [t.fallback for t in trajectory.turns] == [None, "template", None]
    assert len(server.seen) == 3  # one request per turn, none ahead of the click
    images = [sum(p["type"] == "image_url" for p in b["messages"][1]["content"]) if i else 0
              for i, b in enumerate(server.bodies)]
    assert images == [0, 4, 8]  # the chosen column's 4 images of each earlier turn


def test_pasta_run_logs_each_retry_with_log_level_info(tmp_path):
    """What a person at the command line sees: the retry and its wait, then the session."""
    import os
    import subprocess
    import sys

    limited = (429, error("slow down"), {"retry-after": "0.01"})
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    with StubServer(limited, good) as server:
        result = subprocess.run(
            [sys.executable, "-m", "pasta_cli", "--log-level", "info", "run", "--generator", "openai",
             "--generator-option", f"base_url={server.url}", "--generator-option", "model=vl", "--user", "sim",
             "--turns", "1", "--out", str(tmp_path)],
            capture_output=True, text=True, timeout=120, env=env,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "INFO pasta_llm: openai: RateLimitError 429; retry 1 of 4 in 0.01 s (the provider's Retry-After)" in result.stderr
    assert len(server.seen) == 2
