"""Initial prompts for simulated users: at most ``MAX_PROMPT_WORDS`` words each."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from pasta_core.errors import InvalidValueError
from pasta_core.types import word_count

MAX_PROMPT_WORDS = 10


def load_prompts(path: str | os.PathLike[str] | None = None, max_words: int = MAX_PROMPT_WORDS) -> tuple[str, ...]:
    """Initial prompts of at most ``max_words`` words: the packaged PartiPrompts, or a file
    (one prompt per line, or a TSV/CSV with a ``prompt`` column). Longer ones are skipped."""
    if path is None:
        from pasta_cli.data import initial_prompts

        prompts: Sequence[str] = initial_prompts()
    else:
        prompts = _read_prompt_file(Path(path))
    kept = tuple(p for p in (" ".join(str(p).split()) for p in prompts) if p and word_count(p) <= max_words)
    if not kept:
        raise InvalidValueError(f"no initial prompt of at most {max_words} words in {path or 'the packaged prompts'}")
    return kept


def _read_prompt_file(path: Path) -> list[str]:
    if not path.is_file():
        raise InvalidValueError(f"no prompt file at {path}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidValueError(f"the prompt file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if path.suffix in (".tsv", ".csv") and lines:
        delimiter = "\t" if path.suffix == ".tsv" else ","
        rows = list(csv.DictReader(lines, delimiter=delimiter))
        if rows and "prompt" in rows[0]:
            return [row["prompt"] for row in rows]
    return [line for line in lines if line.strip() and not line.startswith("#")]
