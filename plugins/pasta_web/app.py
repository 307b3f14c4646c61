"""The FastAPI app: one small hand-written page (no build step, nothing from a CDN) and a
JSON API over :class:`~pasta_web.service.WebSessions`."""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from pasta_core.errors import InvalidValueError
from pasta_core.plugins import Plugins, get_plugins
from pasta_web.flow import MAX_CRITIQUE_CHARS, MAX_PROMPT_CHARS, MAX_PROMPT_WORDS, MAX_REASON_CHARS
from pasta_web.security import visitor_middleware
from pasta_web.service import ConflictError, LimitError, NotFoundError, WebSessions
from pasta_web.settings import ServerSettings

STATIC = {"app.js": "text/javascript", "app.css": "text/css"}


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
    app.middleware("http")(visitor_middleware(settings.cookie_secure))

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(LimitError)
    async def limit(request: Request, exc: LimitError) -> JSONResponse:
        return error(429, str(exc))

    @app.exception_handler(InvalidValueError)
    async def invalid(request: Request, exc: InvalidValueError) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Pydantic's message echoes the input back; a short summary is enough.
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors()})
        return error(422, "invalid " + ", ".join(fields))

    def owner(request: Request) -> str:
        return str(request.state.owner)

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
        row = web.create(owner(request), body.prompt)
        return {"id": row.id}

    @app.get("/api/sessions/{session_id}")
    def state(request: Request, session_id: str) -> dict[str, Any]:
        return web.state(owner(request), session_id)

    @app.post("/api/sessions/{session_id}/choice", status_code=202)
    def choose(request: Request, session_id: str, body: Click) -> dict[str, Any]:
        web.choose(owner(request), session_id, body.turn, body.column, body.critique)
        return {"ok": True}

    @app.post("/api/sessions/{session_id}/retry", status_code=202)
    def retry(request: Request, session_id: str) -> dict[str, Any]:
        web.retry(owner(request), session_id)
        return {"ok": True}

    @app.get("/api/sessions/{session_id}/images/{turn}/{column}/{image}")
    def image(request: Request, session_id: str, turn: int, column: int, image: int) -> Response:
        found = web.image(owner(request), session_id, turn, column, image)
        headers = {"Cache-Control": "private, max-age=3600"}
        if isinstance(found, Path):
            return FileResponse(found, media_type="image/png", headers=headers)
        return Response(found, media_type="image/png", headers=headers)

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
