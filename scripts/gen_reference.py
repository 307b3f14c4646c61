"""Generate the reference pages of the docs from the code: hooks, protocols, CLI.

    .venv/bin/python scripts/gen_reference.py     # writes docs/reference/*.md

The docs build (mkdocs, through scripts/mkdocs_hooks.py) runs it first, so the
reference can never drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reference"
PROTOCOL_MODULES = ("pasta_core.protocols",)


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def hooks_md() -> str:
    from pasta_core import hookspecs

    lines = ["# Hooks", "", "Every hook a plugin can implement (`pasta_core/hookspecs.py`).", ""]
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("pasta_"):
            continue
        lines += [f"## `{name}`", "", "```python", f"def {name}{inspect.signature(fn)}", "```", "", _doc(fn), ""]
    return "\n".join(lines)


def protocol_classes() -> list[tuple[str, type]]:
    """Every public Protocol in the core's protocol modules."""
    found = []
    for module_name in PROTOCOL_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module_name and getattr(cls, "_is_protocol", False) and not name.startswith("_"):
                found.append((name, cls))
    return found


def protocols_md() -> str:
    lines = ["# Protocols", "", "What each kind of component must implement.", ""]
    for name, cls in protocol_classes():
        lines += [f"## `{name}`", "", f"`{cls.__module__}.{name}`", "", _doc(cls), ""]
        for member, value in cls.__dict__.items():
            if member.startswith("_") and member != "__call__":
                continue
            fn = value.fget if isinstance(value, property) else value
            if not callable(fn):
                continue
            try:
                signature = str(inspect.signature(fn))
            except (TypeError, ValueError):
                signature = "(...)"
            lines += [f"### `{member}{signature}`", "", _doc(fn), ""]
    return "\n".join(lines)


def _commands(group: click.Command, prefix: str) -> list[tuple[str, click.Command]]:
    result = [(prefix, group)]
    if isinstance(group, click.Group):
        for name in sorted(group.commands):
            result += _commands(group.commands[name], f"{prefix} {name}")
    return result


def cli_md() -> str:
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    lines = ["# Command line", "", "Every `pasta` command, including those added by the installed plugins.", ""]
    for path, command in _commands(cli, "pasta"):
        ctx = click.Context(command, info_name=path)
        lines += [f"## `{path}`", "", "```text", command.get_help(ctx), "```", ""]
    return "\n".join(lines)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in {"hooks.md": hooks_md(), "protocols.md": protocols_md(), "cli.md": cli_md()}.items():
        (OUT / name).write_text(text + "\n")


if __name__ == "__main__":
    main()
