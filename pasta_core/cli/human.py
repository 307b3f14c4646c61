"""A person at the terminal: sees each turn as one grid picture and types a column number."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click

from pasta_core.errors import InvalidValueError
from pasta_core.types import Column, History, check_critique
from pasta_core.users import Answer


class ConsoleUser:
    """Asks on stdin for the column (1..L) and an optional critique, re-asking on bad input."""

    def __init__(self, grid_path: Callable[[], Path | None]) -> None:
        self.grid_path = grid_path

    def answer(self, history: History, columns: Sequence[Column], seed: int) -> Answer:
        turn = len(history.turns) + 1
        path = self.grid_path()
        click.echo(f"\nTurn {turn}: {len(columns)} columns of {len(columns[0].images)} images")
        if path is not None:
            click.echo(f"  look at: {path}")
        choice = self._ask_column(len(columns))
        return Answer(choice - 1, self._ask_critique())

    @staticmethod
    def _ask_column(count: int) -> int:
        while True:
            raw = click.prompt(f"Which column do you like best? (1-{count})", default="", show_default=False)
            raw = raw.strip()
            if raw.isdigit() and 1 <= int(raw) <= count:
                return int(raw)
            click.echo(f"  Please type a number from 1 to {count}.")

    @staticmethod
    def _ask_critique() -> str | None:
        while True:
            raw = click.prompt("Optional critique (at most 12 words, Enter to skip)", default="", show_default=False)
            try:
                return check_critique(raw)
            except InvalidValueError as exc:
                click.echo(f"  {exc}; please shorten it.")
