"""Packaged data: initial prompts from PartiPrompts (Apache-2.0, see PartiPrompts.LICENSE).

``prompts.tsv`` holds the 1,224 PartiPrompts of at most 10 words (the paper's limit for
simulated initial prompts), with their category and challenge.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def initial_prompts() -> tuple[str, ...]:
    """The packaged initial prompts (at most 10 words each)."""
    text = resources.files(__name__).joinpath("prompts.tsv").read_text(encoding="utf-8")
    return tuple(row["prompt"] for row in csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
