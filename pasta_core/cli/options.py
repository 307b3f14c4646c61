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
