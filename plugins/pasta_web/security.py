"""Per-visitor identity and the HTTP hardening of the web app.

A visitor is an unguessable random token (256 bits) in an HttpOnly, SameSite=Strict
cookie; the server stores only its SHA-256, so the database cannot be used to
impersonate anyone. Every state-changing request must be JSON (a cross-site form cannot
send that without CORS, which is never granted) and small.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "pasta_visitor"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_BODY = 16 * 1024
COOKIE_AGE = 180 * 24 * 3600

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def owner_key(token: str) -> str:
    """What the database stores for a visitor: the token's SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_key(request: Request) -> str | None:
    """The client address the per-address limits count: the peer's IP address (behind
    a reverse proxy, the one uvicorn takes from ``X-Forwarded-For`` when the proxy is
    trusted, see ``--forwarded-allow-ips``); for IPv6 its /64 network, which one machine
    usually gets as a whole. The peer's name as given when it is not an address (an
in-process test client), None when there is no peer."""
    host = request.client.host if request.client is not None else None
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _reject(status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=status, headers=HEADERS)


def _check_write(request: Request) -> Response | None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _reject(415, "send JSON")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return _reject(411, "a content length is required")
    if int(length) > MAX_BODY:
        return _reject(413, "request too large")
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        return _reject(403, "cross-site request refused")
    return None


class VisitorMiddleware:
    """Gives every request ``request.state.owner`` (issuing a token cookie when needed),
    refuses unsafe writes, and adds the security headers.

    A plain ASGI middleware: it edits the response's first message on its way out, so
    responses (files, JSON) pass through unchanged, with no extra task per request."""

    def __init__(self, app: ASGIApp, cookie_secure: bool = False) -> None:
        self.app = app
        self.cookie_secure = cookie_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refused = _check_write(request)
        if refused is not None:
            await refused(scope, receive, send)
            return
        token = request.cookies.get(COOKIE, "")
        fresh = not TOKEN.match(token)
        if fresh:
            token = secrets.token_urlsafe(32)
        request.state.owner = owner_key(token)
        path = scope["path"]
        no_store = path.startswith("/api/") and "/images/" not in path
        cookie = self._cookie(token) if fresh else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if cookie is not None:
                    headers.append("set-cookie", cookie)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cookie(self, token: str) -> str:
        carrier = Response()
        carrier.set_cookie(
            COOKIE, token, max_age=COOKIE_AGE, httponly=True, samesite="strict", secure=self.cookie_secure, path="/"
        )
        return carrier.headers["set-cookie"]
