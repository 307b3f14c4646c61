"""``--config run.toml``: a command's options from a TOML file, flags overriding it; and
the effective settings written back beside the run (``run_config.toml``), a file the same
option reads.

The keys are the command's long option names, with ``-`` or ``_`` (``batch-size = 64``,
``data = ["a.parquet", "b.parquet"]`` for a repeatable option, ``token-level = true`` for a
flag). An unknown key is refused naming the known ones. The file fills click's
``default_map`` before the other options are read, so a flag given on the command line
wins, and a required option may come from the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from pasta_core.atomic import write_text

#: The effective settings' file name in a run's folder.
RUN_CONFIG = "run_config.toml"
#: Options that are not settings of the run (never written back).
_NOT_SETTINGS = {"help", "config_file"}


def option_key(param: click.Parameter) -> str:
    """The key of an option in a run's TOML file: its long flag without the dashes
    (``--data`` for the parameter ``paths`` gives ``data``)."""
    longs = [o for o in param.opts if o.startswith("--")]
    return max(longs, key=len)[2:] if longs else (param.name or "").replace("_", "-")


def read_run_config(path: str | os.PathLike[str], params: Mapping[str, click.Parameter]) -> dict[str, Any]:
    """The option values in the TOML file ``path`` for a command whose options are
    ``params`` (key, see :func:`option_key` -> option), by parameter name; an unreadable
    file or an unknown key raises :class:`click.BadParameter` naming it."""
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{path} is not valid TOML ({exc})") from None
    values, unknown = {}, []
    for key, value in data.items():
        param = params.get(key.replace("_", "-"))
        if param is None or param.name in _NOT_SETTINGS or param.name is None:
            unknown.append(key)
            continue
        if getattr(param, "multiple", False) and not isinstance(value, list):
            value = [value]
        values[param.name] = value
    if unknown:
        known = ", ".join(sorted(k for k, p in params.items() if p.name not in _NOT_SETTINGS))
        raise click.BadParameter(f"{path}: unknown keys {', '.join(sorted(unknown))}; known: {known}")
    return values


def _load(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if not value:
        return
    params = {option_key(p): p for p in ctx.command.params if isinstance(p, click.Option)}
    ctx.default_map = {**(ctx.default_map or {}), **read_run_config(value, params)}


def config_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--config FILE`` option of a command (read before its other options)."""
    return click.option(
        "--config", "config_file", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
        callback=_load, help="TOML file of this command's options (keys: the option names); flags override it.",
    )(function)


def effective_settings(ctx: click.Context) -> dict[str, Any]:
    """The command's option values as this run uses them (file, flags and defaults
    merged), by key (:func:`option_key`); options left unset (None) are left out."""
    keys = {p.name: option_key(p) for p in ctx.command.params if isinstance(p, click.Option)}
    settings = {}
    for name, value in ctx.params.items():
        if name in _NOT_SETTINGS or name not in keys or value is None:
            continue
        settings[keys[name]] = list(value) if isinstance(value, tuple) else value
    return settings


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def to_toml(settings: Mapping[str, Any], comment: str = "") -> str:
    """``settings`` (name -> number, string, flag or list of them) as TOML text, keys
    written with ``-`` as on the command line."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"{name.replace('_', '-')} = {_toml_value(value)}" for name, value in settings.items()]
    return "\n".join(lines) + "\n"


def save_run_config(folder: str | os.PathLike[str], settings: Mapping[str, Any], command: str) -> Path:
    """Write ``settings`` to ``folder/run_config.toml`` (atomically), headed by how to reuse it."""
    path = Path(folder) / RUN_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, to_toml(settings, f"The settings of this run; rerun it with: pasta {command} --config {path}"))
    return path
