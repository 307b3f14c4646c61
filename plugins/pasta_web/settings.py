"""Server settings and study arms (the agents a study compares).

An arms file (JSON, or TOML on Python 3.11+) lists the arms; each new session is assigned
one at random (weighted), and the arm is recorded with the session::

    [[arm]]
    name = "value"
    selector = "value"
    selector_options = { model = "checkpoints/value" }

    [[arm]]
    name = "random"
    selector = "random"
    weight = 1
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pasta_core.config import EpisodeConfig
from pasta_core.errors import InvalidValueError

_ARM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
#: The Host header values a browser sends for a server on this machine; always allowed.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_HOST_NAME = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_ARM_KEYS = {
    "name", "generator", "t2i", "selector", "generator_options", "t2i_options", "selector_options", "weight",
}


def _arm_name(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not _ARM_NAME.match(value):
        raise InvalidValueError(f"arm names are 1-40 letters, digits, '.', '_' or '-': got {value!r}")


def _weight(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise InvalidValueError(f"arm weights must be positive, got {value!r}")


def _options(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValueError(f"component options must be a table of key = value, got {value!r}")
    return dict(value)


@attrs.frozen
class Arm:
    """One configured agent: generator, T2I model and selector, with their options."""

    name: str = attrs.field(default="default", validator=_arm_name)
    generator: str = "template"
    t2i: str = "procedural"
    selector: str = "random"
    generator_options: dict[str, Any] = attrs.field(factory=dict, converter=_options)
    t2i_options: dict[str, Any] = attrs.field(factory=dict, converter=_options)
    selector_options: dict[str, Any] = attrs.field(factory=dict, converter=_options)
    weight: float = attrs.field(default=1.0, converter=float, validator=_weight)

    def spec(self) -> dict[str, Any]:
        """What is recorded with each session (and lets a resumed session rebuild it)."""
        return attrs.asdict(self)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Arm:
        unknown = set(spec) - _ARM_KEYS
        if unknown:
            raise InvalidValueError(f"unknown arm keys {sorted(unknown)}; known: {sorted(_ARM_KEYS)}")
        return cls(**spec)


def load_arms(path: str | Path) -> tuple[Arm, ...]:
    """Arms from a JSON or TOML file: a list of tables under ``arm`` (or a JSON list)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidValueError(f"no arms file at {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            import tomllib

            data: Any = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise InvalidValueError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    items = data.get("arm", data.get("arms")) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise InvalidValueError(f"{path} must list at least one arm (a list of tables named 'arm')")
    arms = tuple(Arm.from_spec(dict(item)) for item in items)
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise InvalidValueError(f"arm names must be distinct: {names}")
    return arms


def allowed_host(value: str) -> str:
    """One entry of the Host allow-list, normalized: a host name (``pasta.example.org``),
    a wildcard for its subdomains (``*.example.org``), an IP address (IPv6 in brackets
    or not), or ``*`` (any host: turns the check off). No scheme, port or path."""
    import ipaddress

    host = str(value).strip().lower()
    if host == "*":
        return host
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        if _HOST_NAME.match(host) and len(host) <= 253:
            return host
        raise InvalidValueError(
            f"{value!r} is not a host name or address for --allowed-host: give a name such as "
            "pasta.example.org, *.example.org or 192.0.2.7, without scheme, port or path"
        ) from None
    return f"[{address}]" if address.version == 6 else str(address)


def _allowed_hosts(value: Any) -> tuple[str, ...]:
    hosts = [allowed_host(v) for v in ([value] if isinstance(value, str) else value)]
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, *hosts]))


@attrs.frozen
class ServerSettings:
    """Everything the web app is configured with.

    ``db`` is the SQLite file; session folders (images, trajectory, grids) go under
    ``sessions_dir`` (default: ``sessions/`` beside the database). ``user_model`` (a
    registered name, a checkpoint folder, or None) feeds the belief view.
    """

    db: Path = attrs.field(converter=Path)
    sessions_dir: Path | None = attrs.field(default=None)
    arms: tuple[Arm, ...] = attrs.field(default=(Arm(),), converter=tuple)
    config: EpisodeConfig = attrs.field(factory=EpisodeConfig)
    user_model: str | None = "simple"
    user_model_options: dict[str, Any] = attrs.field(factory=dict)
    belief: bool = True
    render_batch: int = 1
    max_sessions_per_visitor: int = 50
    workers: int = 4
    cookie_secure: bool = False
    #: Host header values served (the loopback names are always in; ``*`` allows any).
    allowed_hosts: tuple[str, ...] = attrs.field(default=LOOPBACK_HOSTS, converter=_allowed_hosts)
    #: Sessions being played at once from one client address (IPv6: one /64).
    max_live_per_address: int = 20
    #: New sessions per client address per hour.
    new_sessions_per_address: int = 100
    #: Sessions being played at once on the whole server.
    max_live_sessions: int = 100
    #: Slates waiting to be rendered before new sessions are turned away.
    max_queued_renders: int = 40

    def __attrs_post_init__(self) -> None:
        if not self.arms:
            raise InvalidValueError("at least one arm is needed")
        limits = {
            "render_batch": self.render_batch, "workers": self.workers,
            "max_sessions_per_visitor": self.max_sessions_per_visitor,
            "max_live_per_address": self.max_live_per_address,
            "new_sessions_per_address": self.new_sessions_per_address,
            "max_live_sessions": self.max_live_sessions, "max_queued_renders": self.max_queued_renders,
        }
        for name, value in limits.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidValueError(f"{name} must be a positive whole number, got {value!r}")

    @property
    def session_root(self) -> Path:
        return Path(self.sessions_dir) if self.sessions_dir is not None else self.db.parent / "sessions"

    @property
    def belief_enabled(self) -> bool:
        return self.belief and self.user_model is not None


def single_arm(generator: str, t2i: str, selector: str, options: Sequence[dict[str, Any]] = ({}, {}, {})) -> Arm:
    """The one arm of a server started without an arms file."""
    generator_options, t2i_options, selector_options = options
    return Arm("default", generator, t2i, selector, generator_options, t2i_options, selector_options)
