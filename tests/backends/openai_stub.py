"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests and the benchmark.

It records every request (path, headers, JSON body) and plays ``replies`` in order (the
last repeats): ``(status, payload)`` or ``(status, payload, headers)``, where a ``str``
payload is sent as an HTML page; or a callable of the request body returning one of those.
By default it answers every request well, in the shape the request's schema asks for.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from backends_helpers import answer_for

from pasta_core.config import DEFAULT_CATEGORIES


def completion(content: str | None, refusal: str | None = None) -> dict[str, Any]:
    """A chat completion whose one choice says ``content``."""
    message = {"role": "assistant", "content": content, "refusal": refusal}
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "stub",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def schema_of(body: dict[str, Any], per_category: int = 5) -> dict[str, Any]:
    """The answer schema a request asks for (the default one when it sends none)."""
    shape = body.get("response_format") or {}
    if shape.get("type") == "json_schema":
        return shape["json_schema"]["schema"]
    item = {"minItems": per_category}
    return {"properties": {c: item for c in DEFAULT_CATEGORIES}}


def good(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A well-behaved server's answer to ``body``."""
    return 200, completion(json.dumps(answer_for(schema_of(body))))


def error(message: str = "error") -> dict[str, Any]:
    """An OpenAI error body."""
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


class StubServer:
    """The server (use as a context manager); ``url`` is its ``/v1`` base URL."""

    def __init__(self, *replies: Any) -> None:
        self.replies: list[Any] = list(replies) or [good]
        self.seen: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, _, body in self.seen]

    def _reply(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.seen.append((path, headers, body))
            reply = self.replies[min(len(self.seen), len(self.replies)) - 1]
        if callable(reply):
            reply = reply(body)
        status, payload, *extra = reply
        return status, payload, dict(extra[0]) if extra else {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stalls)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sent = {key.lower(): value for key, value in self.headers.items()}
                status, payload, headers = stub._reply(self.path, sent, body)
                html = isinstance(payload, str)
                data = (payload if html else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if html else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> StubServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
