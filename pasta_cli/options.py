"""Parsing helpers shared by commands."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
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


def component_options(user_model: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--generator-option``, ``--t2i-option``, ``--selector-option`` and
    ``--user-model-option`` flags (``KEY=VALUE``, repeatable) of a command that builds a
    session's components; ``user_model`` says whose model the last one sets."""
    flags = {
        "--generator-option": "A setting of the candidate generator (repeatable).",
        "--t2i-option": "A setting of the text-to-image model, e.g. device=cuda (repeatable).",
        "--selector-option": "A setting of the slate selector (repeatable).",
        "--user-model-option": f"A setting of {user_model} (repeatable).",
    }

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for flag, text in reversed(flags.items()):  # click lists options in decorator order
            command = click.option(flag, multiple=True, metavar="KEY=VALUE", help=text)(command)
        return command

    return decorate


def check_text(text: str, flag: str) -> str:
    """``text`` typed on the command line, refused if it is not UTF-8 or holds control
    characters (a terminal's escape sequences, NUL): PASTA stores it as UTF-8 text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise click.BadParameter("is not UTF-8 text; type it again in a UTF-8 terminal", param_hint=flag) from None
    bad = sorted({f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"})
    if bad:
        raise click.BadParameter(f"holds control characters ({', '.join(bad)}); type plain text", param_hint=flag)
    return text


def writable_folder(path: str, flag: str) -> Path:
    """The folder ``path`` (it may not exist yet), refused, naming ``flag``, if it or a
    folder above it is a file, or if it could not be created or written."""
    folder = Path(path)
    existing = next((p for p in (folder, *folder.absolute().parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        what = "is a file" if existing == folder else f"is inside {existing}, which is a file"
        raise click.BadParameter(f"{folder} {what}; give a folder", param_hint=flag)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write to {existing} (permission denied); choose another folder",
                                 param_hint=flag)
    return folder
