"""The commands' log lines (training, simulation, distillation, the planted bench): standard
:mod:`logging`, shown on stderr.

Modules log through ``logging.getLogger(__name__)``. A training command wraps its work in
:func:`command_logs`, which shows the records of the PASTA packages at the level of the
global ``pasta --log-level`` (``PASTA_LOG_LEVEL``), ``info`` when none was given, on the
current ``sys.stderr`` above any tqdm bar (so a test's ``CliRunner`` sees them), and restores
the loggers after.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence

import click

#: The loggers a training command shows (their children included).
PACKAGES = ("pasta_core", "pasta_clip_em", "pasta_value", "pasta_simulate", "pasta_tracking",
            "pasta_checkpoints", "pasta_encoders", "pasta_planted", "pasta_distill", "pasta_bench")


class EchoHandler(logging.Handler):
    """Writes each record as one line on stderr (``warning: ...`` from warnings up),
    above any tqdm progress bar rather than through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            text = record.getMessage()
            if record.levelno >= logging.WARNING:
                text = f"{record.levelname.lower()}: {text}"
            tqdm.write(text, file=sys.stderr)  # looked up now: a test runner may have swapped it
        except Exception:  # noqa: BLE001 - logging's own rule: a handler never raises
            self.handleError(record)


def chosen_level(default: str = "info") -> int:
    """The level of the global ``--log-level`` of the running ``pasta`` command, else
    ``default``."""
    ctx = click.get_current_context(silent=True)
    name = ctx.find_root().params.get("log_level") if ctx is not None else None
    return logging.getLevelName((name or default).upper())


@contextlib.contextmanager
def command_logs(level: int | None = None, packages: Sequence[str] = PACKAGES) -> Iterator[None]:
    """Show the records of ``packages`` from ``level`` (default :func:`chosen_level`) on
    stderr while the block runs; the loggers are restored after it."""
    level = chosen_level() if level is None else level
    handler = EchoHandler(level)
    saved = []
    for name in packages:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(level)
        logger.addHandler(handler)
        logger.propagate = False  # the root's handler (--log-level) would print it twice
    try:
        yield
    finally:
        for logger, old_level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            logger.propagate = propagate
