"""Per-visitor identity and the HTTP hardening of the web app.

A visitor is an unguessable random token (256 bits) in an HttpOnly, SameSite=Strict
cookie; the server stores only its SHA-256, so the database cannot be used to
impersonate anyone. Every state-changing request must be JSON (a cross-site form cannot
send that without CORS, which is never granted) and small.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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


def visitor_middleware(cookie_secure: bool) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Gives every request ``request.state.owner`` (issuing a token cookie when needed),
    refuses unsafe writes, and adds the security headers."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refused = _check_write(request)
        if refused is not None:
            return refused
        token = request.cookies.get(COOKIE, "")
        fresh = not TOKEN.match(token)
        if fresh:
            token = secrets.token_urlsafe(32)
        request.state.owner = owner_key(token)
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                COOKIE, token, max_age=COOKIE_AGE, httponly=True, samesite="strict", secure=cookie_secure, path="/"
            )
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/") and "/images/" not in request.url.path:
            response.headers["Cache-Control"] = "no-store"
        return response

    return middleware
