"""A person at the terminal: sees each turn as one grid picture and types a column number."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click

from pasta_cli.options import check_text
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import Answer
from pasta_core.types import Column, History, check_critique


class ConsoleUser:
    """Asks on stdin for the column (1..L) and an optional critique, re-asking on bad input;
    with ``show_prompts``, prints the prompt behind each column first."""

    def __init__(self, grid_path: Callable[[], Path | None], show_prompts: bool = False) -> None:
        self.grid_path = grid_path
        self.show_prompts = show_prompts

    def answer(self, history: History, columns: Sequence[Column], seed: int) -> Answer:
        turn = len(history.turns) + 1
        path = self.grid_path()
        click.echo(f"\nTurn {turn}: {len(columns)} columns of {len(columns[0].images)} images")
        if path is not None:
            click.echo(f"  look at: {path}")
        if self.show_prompts:
            for c, column in enumerate(columns, start=1):
                click.echo(f"  column {c}: {column.prompt}")
        choice = self._ask_column(len(columns))
        return Answer(choice - 1, self._ask_critique())

    @staticmethod
    def _ask_column(count: int) -> int:
        while True:
            raw = _read(f"Which column do you like best? (1-{count})")
            raw = raw.strip()
            if raw.isdigit() and 1 <= int(raw) <= count:
                return int(raw)
            click.echo(f"  Please type a number from 1 to {count}.")

    @staticmethod
    def _ask_critique() -> str | None:
        while True:
            raw = _read("Optional critique (at most 12 words, Enter to skip)")
            try:
                check_text(raw, "critique")
            except click.BadParameter as exc:
                click.echo(f"  The critique {exc.message}.")
                continue
            try:
                return check_critique(raw)
            except InvalidValueError as exc:
                click.echo(f"  {exc}; please shorten it.")


def _read(question: str) -> str:
    """One answer from the terminal; input that is not UTF-8 ends the session with a
    clear error (the answers so far are saved: resume it)."""
    try:
        return click.prompt(question, default="", show_default=False)
    except UnicodeDecodeError:
        raise InvalidValueError("the terminal sent text that is not UTF-8; set a UTF-8 locale and resume "
                                "the session with --resume") from None
