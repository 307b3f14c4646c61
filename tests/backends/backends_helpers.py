"""Helpers shared by the backend tests: canned provider answers and a scripted mock provider."""

from __future__ import annotations

import json
from typing import Any

GEMINI_KEY = "test-gemini-key-0123"
ANTHROPIC_KEY = "test-anthropic-key-0123"


def answer_for(schema: dict[str, Any], tag: str = "") -> dict[str, list[str]]:
    """A valid answer to a request whose answer schema is ``schema``."""
    answer = {}
    for category, spec in schema["properties"].items():
        answer[category] = [f"a {category} prompt {tag}{i}" for i in range(spec["minItems"])]
    return answer


def gemini_body(answer: Any) -> dict[str, Any]:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10},
    }


def anthropic_body(answer: Any, tool: str = "propose_prompt_expansions") -> dict[str, Any]:
    block = (
        {"type": "text", "text": answer}
        if isinstance(answer, str)
        else {"type": "tool_use", "id": "toolu_1", "name": tool, "input": answer}
    )
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [block], "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


def request_schema(body: dict[str, Any]) -> dict[str, Any]:
    """The answer schema inside a Gemini or an Anthropic request body."""
    if "generationConfig" in body:
        return body["generationConfig"]["responseJsonSchema"]
    return body["tools"][0]["input_schema"]


def good_reply(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The reply of a well-behaved provider to ``body``."""
    answer = answer_for(request_schema(body))
    return 200, gemini_body(answer) if "generationConfig" in body else anthropic_body(answer)


class Provider:
    """A scripted provider for ``httpx2.MockTransport``: records requests, plays replies.

    ``replies`` items are ``(status, json)`` or ``(status, json, headers)`` (a ``str``
    instead of JSON is sent as an HTML page), an exception to raise, or a callable of the
    request body; the last item repeats.
    """

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies) or [good_reply]
        self.requests: list[Any] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def __call__(self, request: Any) -> Any:
        import httpx2

        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, type) and issubclass(reply, BaseException):
            raise reply("scripted failure", request=request)
        if callable(reply):
            reply = reply(json.loads(request.content))
        status, payload, *headers = reply
        if isinstance(payload, str):  # a page that is not JSON (a proxy's login page)
            return httpx2.Response(status, text=payload, headers={"content-type": "text/html", **dict(*headers)})
        return httpx2.Response(status, json=payload, headers=dict(*headers))

    def client(self) -> Any:
        import httpx2

        return httpx2.Client(transport=httpx2.MockTransport(self))


class NoSleep:
    """Records the backoff waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
