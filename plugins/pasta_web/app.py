"""The FastAPI app: one small hand-written page (no build step, nothing from a CDN) and a
JSON API over :class:`~pasta_web.service.WebSessions`.

The outermost layer is Starlette's ``TrustedHostMiddleware``: a request whose ``Host``
header is not in ``settings.allowed_hosts`` (the loopback names by default) is refused
with 400 before anything else runs, so a page on another site that has re-pointed its
own name at this machine (DNS rebinding) cannot use the app."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Route

from pasta_core.errors import InvalidValueError, PastaError
from pasta_core.plugins import Plugins, get_plugins
from pasta_web.flow import MAX_CRITIQUE_CHARS, MAX_PROMPT_CHARS, MAX_PROMPT_WORDS, MAX_REASON_CHARS
from pasta_web.security import VisitorMiddleware, client_key
from pasta_web.service import BusyError, ConflictError, LimitError, NotFoundError, WebSessions
from pasta_web.settings import ServerSettings

STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
log = logging.getLogger("pasta_web")
#: The longest a page's poll waits for something new before it is answered anyway.
LONG_POLL_SECONDS = 15.0


class Strict(BaseModel):
    """Request bodies refuse unknown keys."""

    model_config = ConfigDict(extra="forbid")


class NewSession(Strict):
    prompt: str = Field(max_length=MAX_PROMPT_CHARS)


class Click(Strict):
    turn: StrictInt = Field(ge=1, le=100)
    column: StrictInt = Field(ge=0, le=63)
    critique: str | None = Field(default=None, max_length=MAX_CRITIQUE_CHARS)


class Answers(Strict):
    preferred: StrictInt | None = Field(default=None, ge=0, le=63)
    satisfaction: list[StrictInt | None] | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS)
    comparison: str | None = Field(default=None, max_length=10)


class Overall(Strict):
    score: StrictInt = Field(ge=1, le=5)


#: Pydantic error types with a plainer message than "invalid <field>".
_PROBLEMS = {
    "string_unicode": "{} is not valid text (control characters or broken characters)",
    "missing": "{} is missing",
    "extra_forbidden": "unknown field {}",
    "string_too_long": "{} is too long",
}


def _problem(error: Any) -> str:
    """One request-validation error in words, without the input."""
    field = ".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
    return _PROBLEMS.get(error.get("type", ""), "invalid {}").format(field)


def _static(name: str) -> bytes:
    return resources.files("pasta_web.static").joinpath(name).read_bytes()


def create_app(settings: ServerSettings, plugins: Plugins | None = None, service: WebSessions | None = None) -> FastAPI:
    """The web app for ``settings`` (``service`` may be given to share or inspect it).

    This is the web app's start-up: the components are built from ``plugins`` (default:
    the installed plugins), which the service hands down; nothing later looks them up."""
    web = service or WebSessions(settings, plugins or get_plugins())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        web.close()

    app = FastAPI(title="PASTA", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.service = web
    app.add_middleware(VisitorMiddleware, cookie_secure=settings.cookie_secure)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts), www_redirect=False)

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=status, headers=headers)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(LimitError)
    async def limit(request: Request, exc: LimitError) -> JSONResponse:
        return error(429, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(BusyError)
    async def busy(request: Request, exc: BusyError) -> JSONResponse:
        return error(503, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(PastaError)
    async def failed(request: Request, exc: PastaError) -> JSONResponse:
        # Any other error (a component that cannot be built, a provider failing while an
        # image is restored): the operator reads it in the log, the page a neutral line.
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error(503, "Something went wrong on the server; please try again in a moment.",
                     {"Retry-After": "10"})

    @app.exception_handler(InvalidValueError)
    async def invalid(request: Request, exc: InvalidValueError) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Pydantic's message echoes the input back; a short summary is enough.
        return error(422, "; ".join(sorted({_problem(e) for e in exc.errors()})))

    def owner(request: Request) -> str:
        return str(request.state.owner)

    def client(request: Request) -> str | None:
        return client_key(request)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return Response(_static("index.html"), media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            raise NotFoundError("not found")
        return Response(_static(name), media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    @app.get("/api/config")
    def config() -> dict[str, Any]:
        cfg = settings.config
        return {
            "turns": cfg.turns, "slate_size": cfg.slate_size, "images_per_prompt": cfg.images_per_prompt,
            "max_prompt_words": MAX_PROMPT_WORDS, "max_critique_words": 12, "max_reason_chars": MAX_REASON_CHARS,
            "belief": settings.belief_enabled,
        }

    @app.get("/api/sessions")
    def sessions(request: Request) -> dict[str, Any]:
        return {"sessions": web.list(owner(request))}

    @app.post("/api/sessions", status_code=201)
    def create(request: Request, body: NewSession) -> dict[str, Any]:
        row = web.create(owner(request), body.prompt, client(request))
        return {"id": row.id}

    @app.get("/api/sessions/{session_id}")
    async def state(request: Request, session_id: str, after: int | None = None) -> Response:
        # The page polls while pictures are made; with ``after`` (the version it shows) the
        # answer waits, holding no thread, until there is something new or LONG_POLL_SECONDS.
        # Plain JSON, without FastAPI's generic encoder (the state holds only JSON types).
        who, where = owner(request), client(request)
        if after is not None:
            await web.wait_for_change(who, session_id, after, LONG_POLL_SECONDS)
        return JSONResponse(await run_in_threadpool(web.state, who, session_id, where))

    @app.post("/api/sessions/{session_id}/choice", status_code=202)
    def choose(request: Request, session_id: str, body: Click) -> dict[str, Any]:
        web.choose(owner(request), session_id, body.turn, body.column, body.critique, client(request))
        return {"ok": True}

    @app.post("/api/sessions/{session_id}/retry", status_code=202)
    def retry(request: Request, session_id: str) -> dict[str, Any]:
        web.retry(owner(request), session_id, client(request))
        return {"ok": True}

    async def image(request: Request) -> Response:
        # The page's most frequent request (16 a turn): a plain Starlette route, without
        # FastAPI's parameter and response handling (the path's numbers are integers by
        # the route's convertors). An image on show whose bytes are ready is answered here,
        # on the event loop; any other (to encode, or a file) in a worker thread.
        where = request.path_params
        session_id, turn, column, number = (where[k] for k in ("session_id", "turn", "column", "image"))
        headers = {"Cache-Control": "private, max-age=3600"}
        who = owner(request)
        found = web.encoded_image(who, session_id, turn, column, number)
        if found is None:
            found = await run_in_threadpool(web.image, who, session_id, turn, column, number)
        if isinstance(found, Path):
            return FileResponse(found, media_type="image/png", headers=headers)
        return Response(found, media_type="image/png", headers=headers)

    app.router.routes.append(
        Route("/api/sessions/{session_id}/images/{turn:int}/{column:int}/{image:int}", image, methods=["GET"])
    )

    @app.put("/api/sessions/{session_id}/evaluation/{turn}")
    def evaluate(request: Request, session_id: str, turn: int, body: Answers) -> dict[str, Any]:
        return web.evaluate(owner(request), session_id, turn, body.model_dump(exclude_unset=True))

    @app.put("/api/sessions/{session_id}/overall")
    def overall(request: Request, session_id: str, body: Overall) -> dict[str, Any]:
        web.rate_overall(owner(request), session_id, body.score)
        return {"ok": True}

    @app.post("/api/sessions/{session_id}/finish")
    def finish(request: Request, session_id: str) -> dict[str, Any]:
        return {"completion_code": web.finish(owner(request), session_id)}

    return app
