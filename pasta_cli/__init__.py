"""The ``pasta`` command line. Sub-commands live in small modules; plugins add their own
through the ``pasta_register_commands`` hook. Heavy imports stay inside commands.

:func:`main` is the error boundary: an error a user can cause ends in one line on stderr
and a non-zero exit; ``--debug`` (or ``PASTA_DEBUG=1``) shows the traceback instead."""

from __future__ import annotations

import os
import sys

import click

from pasta_cli.plugins_cmd import plugins_command
from pasta_cli.run import run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pasta-t2i", prog_name="pasta")
@click.option("--debug", is_flag=True, envvar="PASTA_DEBUG", help="Show tracebacks instead of one-line errors.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              envvar="PASTA_LOG_LEVEL", help="Log to stderr from this level on (info: each LLM provider retry and "
              "its wait).")
def cli(debug: bool, log_level: str | None) -> None:
    """PASTA: personalized, multi-turn text-to-image generation."""
    if log_level:
        import logging

        logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")


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


def _debugging(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("PASTA_DEBUG", "") not in ("", "0", "false")


def one_line(error: BaseException) -> str:
    """The one-line message of an error that reached the command line."""
    from pasta_core.errors import PastaError

    if isinstance(error, PastaError):
        return str(error)
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    if isinstance(error, UnicodeDecodeError):
        return f"a file or input is not UTF-8 text ({error.reason} at byte {error.start})"
    if isinstance(error, MemoryError):
        return "out of memory; try smaller batches or sizes"
    text = " ".join(str(error).split()) or "no message"
    return f"unexpected {type(error).__name__}: {text} (rerun with --debug for the traceback, and please report it)"


#: What click raises for a group called without a command (click 8.2+), to show its help.
_HELP_ERROR = getattr(click.exceptions, "NoArgsIsHelpError", None)


def _usage_line(error: click.UsageError) -> str:
    """A usage error in one line, with where to read the usage (click prints three)."""
    where = error.ctx.command_path if error.ctx is not None else "pasta"
    return f"{' '.join(error.format_message().split())} (see: {where} --help)"


def _not_utf8(argv: list[str]) -> str | None:
    """The first command-line argument that is not UTF-8 text (Python keeps its bytes as
    surrogates), shown with those bytes escaped."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape") if _escaped(arg) else arg.encode("utf-8", "backslashreplace")
            return raw.decode("utf-8", "backslashreplace")
    return None


def _escaped(arg: str) -> bool:
    """Whether every surrogate in ``arg`` stands for one byte (Python's surrogateescape)."""
    return all("\udc80" <= ch <= "\udcff" for ch in arg if "\ud800" <= ch <= "\udfff")


def main(argv: list[str] | None = None) -> None:
    """The ``pasta`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    bad = _not_utf8(argv)
    if bad is not None:
        click.echo(f"Error: the argument '{bad}' is not UTF-8 text; PASTA keeps prompts, paths and options as "
                   "UTF-8 (type it in a UTF-8 terminal, or rename the file)", err=True)
        sys.exit(2)
    load_plugin_commands()
    try:
        code = cli.main(argv, prog_name="pasta", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as error:
        if _HELP_ERROR is not None and isinstance(error, _HELP_ERROR):  # a group with no command: its help
            error.show()
        else:
            click.echo(f"Error: {_usage_line(error)}", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        if _debugging(argv) and isinstance(error.__cause__, Exception):
            raise error.__cause__ from None  # the error a command turned into this message, with its traceback
        click.echo(f"Error: {' '.join(error.format_message().split())}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        if _debugging(argv):
            raise
        click.echo(f"Error: {one_line(error)}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
