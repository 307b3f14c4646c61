"""``pasta serve`` and ``pasta sessions export``."""

from __future__ import annotations

import ipaddress
from typing import Any

import click

from pasta_cli.options import component_options, parse_options


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _specific(host: str) -> bool:
    """Whether ``host`` names one address (not 0.0.0.0 or ::, every interface)."""
    try:
        return not ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return bool(host)


def build_settings(kw: dict[str, Any]) -> Any:
    """Server settings from the command-line options."""
    from pasta_core.config import EpisodeConfig
    from pasta_web.settings import ServerSettings, load_arms, single_arm

    if kw["arms"]:
        arms = load_arms(kw["arms"])
    else:
        options = [parse_options(kw[f"{k}_option"], f"--{k}-option") for k in ("generator", "t2i", "selector")]
        arms = (single_arm(kw["generator"], kw["t2i"], kw["selector"], options),)
    user_model = None if kw["user_model"] in ("", "none") or not kw["belief"] else kw["user_model"]
    allowed = list(kw.get("allowed_host", ()))
    host = kw.get("host")
    if host and _specific(host) and not _loopback(host):
        allowed.append(host)  # the address the server was bound to, as a browser would send it
    return ServerSettings(
        db=kw["db"],
        sessions_dir=kw["sessions_dir"],
        arms=arms,
        config=EpisodeConfig(turns=kw["turns"]),
        user_model=user_model,
        user_model_options=parse_options(kw["user_model_option"], "--user-model-option"),
        belief=kw["belief"],
        render_batch=kw["render_batch"],
        max_sessions_per_visitor=kw["max_sessions"],
        cookie_secure=kw["cookie_secure"],
        allowed_hosts=tuple(allowed),
        **{key: kw[key] for key in _LIMITS if kw.get(key) is not None},
    )


#: Command-line options that set a ServerSettings limit of the same name.
_LIMITS = ("max_live_per_address", "new_sessions_per_address", "max_live_sessions", "max_queued_renders")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--generator", default="template", show_default=True, help="Candidate generator plugin.")
@click.option("--t2i", default="procedural", show_default=True, help="Text-to-image plugin.")
@click.option("--selector", default="random", show_default=True, help="Slate selector plugin.")
@component_options(user_model="the belief view's user model")
@click.option("--arms", default=None, type=click.Path(dir_okay=False), help="Study arms file (JSON or TOML); overrides the three above.")
@click.option("--db", default="pasta-web/pasta.sqlite3", show_default=True, help="SQLite file or sqlite:///URL.")
@click.option("--sessions-dir", default=None, help="Folder for session images [sessions/ beside the database].")
@click.option("--user-model", default="simple", show_default=True, help="Belief view: a registered user model, a checkpoint folder, a Hub repo "
                   "(hf://owner/name), or 'none'.")
@click.option("--belief/--no-belief", default=True, show_default=True, help="Show the belief panel.")
@click.option("--turns", type=click.IntRange(1, 20), default=5, show_default=True, help="Turns per session.")
@click.option("--render-batch", type=click.IntRange(1, 64), default=1, show_default=True, help="Images per T2I call (raise it for GPU backends).")
@click.option("--max-sessions", type=click.IntRange(1, 10000), default=50, show_default=True, help="Sessions per visitor (cookie).")
@click.option("--max-live-per-address", type=click.IntRange(1, 10000), default=20, show_default=True,
              help="Sessions played at once from one client address (IPv6: one /64); over it: 429.")
@click.option("--new-sessions-per-address", type=click.IntRange(1, 1000000), default=100, show_default=True,
              help="New sessions per client address per hour; over it: 429.")
@click.option("--max-live-sessions", type=click.IntRange(1, 100000), default=100, show_default=True,
              help="Sessions played at once on the server; over it: 503.")
@click.option("--max-queued-renders", type=click.IntRange(1, 100000), default=40, show_default=True,
              help="Slates waiting to be rendered before new sessions get 503.")
@click.option("--allowed-host", multiple=True, metavar="HOST",
              help="A Host name the app answers besides localhost, 127.0.0.1 and [::1] (repeatable; "
                   "'*.example.org' for subdomains, '*' for any). Other Host headers get 400.")
@click.option("--cookie-secure", is_flag=True, help="Mark the visitor cookie Secure (when served over HTTPS).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"]),
              help="The server's log lines from this level on (uvicorn's and the app's).")
def serve_command(**kw: Any) -> None:
    """Serve personalized sessions and rater studies in a web browser."""
    from pasta_web.memory import configure_server_process

    configure_server_process()  # first: before pyarrow is imported and the server's threads start
    from pasta_core.errors import PastaError, require
    from pasta_core.plugins import get_plugins

    require("fastapi", "web")
    require("uvicorn", "web")
    import uvicorn

    from pasta_web.app import create_app
    from pasta_web.service import WebSessions

    try:
        settings = build_settings(kw)
        service = WebSessions(settings, get_plugins())  # the server's start-up: its plugin set
        service.warm_up()
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    if not _loopback(kw["host"]):
        click.secho(
            f"warning: binding {kw['host']} makes the app reachable from the network; serve it over "
            "HTTPS (a reverse proxy) and pass --cookie-secure. It answers only the Host names "
            f"{', '.join(settings.allowed_hosts)}: add the name people use with --allowed-host.",
            fg="yellow", err=True,
        )
    if "*" in settings.allowed_hosts:
        click.secho("warning: --allowed-host '*' turns the Host check off (DNS rebinding can reach the app).",
                    fg="yellow", err=True)
    _log_to_stderr(kw["log_level"])
    arms = ", ".join(a.name for a in settings.arms)
    click.echo(f"PASTA web app on http://{kw['host']}:{kw['port']}/  (arms: {arms}; data: {settings.db})")
    uvicorn.run(create_app(settings, service=service), host=kw["host"], port=kw["port"], log_level=kw["log_level"])


def _log_to_stderr(level: str) -> None:
    """The server's own log (sessions, and the errors of providers and components, which
    the rater's page never shows) on stderr beside uvicorn's, at ``--log-level``."""
    import logging

    logger = logging.getLogger("pasta_web")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     pasta_web: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


@click.group("sessions")
def sessions_group() -> None:
    """Sessions collected by the web app."""


@sessions_group.command("export")
@click.option("--db", default="pasta-web/pasta.sqlite3", show_default=True, help="The database 'pasta serve' used.")
@click.option("--out", required=True, help="Folder for trajectories.parquet and the images.")
@click.option("--finished-only", is_flag=True, help="Only sessions whose evaluation phase is complete.")
@click.option("--no-images", is_flag=True, help="Do not copy images (readers re-render them from seeds).")
def export_command(db: str, out: str, finished_only: bool, no_images: bool) -> None:
    """Write the sessions, with the rater answers, as trajectory Parquet."""
    from pasta_core.errors import PastaError
    from pasta_web.export import export_sessions

    try:
        path, count = export_sessions(db, out, finished_only=finished_only, images=not no_images)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {count} session(s) to {path}")
