"""The ``pasta`` command line. Sub-commands live in small modules; plugins add their own
through the ``pasta_register_commands`` hook. Heavy imports stay inside commands."""

from __future__ import annotations

import click

from pasta_core.cli.plugins_cmd import plugins_command
from pasta_core.cli.run import run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pasta-t2i", prog_name="pasta")
def cli() -> None:
    """PASTA: personalized, multi-turn text-to-image generation."""


cli.add_command(run_command)
cli.add_command(plugins_command)
_plugin_commands_loaded = False


def load_plugin_commands() -> None:
    """Let installed plugins add their sub-commands (once per process)."""
    global _plugin_commands_loaded
    if _plugin_commands_loaded:
        return
    from pasta_core.plugins import get_plugins

    get_plugins().add_commands(cli)
    _plugin_commands_loaded = True


def main() -> None:
    load_plugin_commands()
    cli(prog_name="pasta")
