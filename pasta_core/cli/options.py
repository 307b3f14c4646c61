"""Parsing helpers shared by commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click


def parse_options(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    """``["steps=2", "device=cpu"]`` -> ``{"steps": "2", "device": "cpu"}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint=flag)
        options[key.strip().replace("-", "_")] = value
    return options


def checkpoint_plugin(folder: str) -> str:
    """The registered plugin name recorded in a checkpoint folder's config.json."""
    import json
    from pathlib import Path

    config = Path(folder) / "config.json"
    if not config.is_file():
        raise click.BadParameter(f"{folder} has no config.json: is it a PASTA checkpoint folder?")
    try:
        name = json.loads(config.read_text())["plugin"]
    except (ValueError, KeyError) as exc:
        raise click.BadParameter(f"{config} does not name its plugin ('plugin' key)") from exc
    return str(name)
