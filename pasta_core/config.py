"""Episode settings, with the paper's defaults (appendix E.4)."""

from __future__ import annotations

from typing import Any

import attrs

from pasta_core.errors import InvalidValueError

#: The five candidate categories of the embedded generator and the LLM prompt.
DEFAULT_CATEGORIES: tuple[str, ...] = ("rephrase", "detail", "style", "mood", "twist")
REWARD_MODES = ("sparse", "dense")


#: Upper bounds of the settings (those of ``pasta run``'s options): a hand-edited
#: ``session.json`` or a library caller is held to the same ranges as the command line.
MAX_TURNS = 50
MAX_SLATE_SIZE = 16
MAX_IMAGES_PER_PROMPT = 16
MAX_CANDIDATES_PER_CATEGORY = 100
MAX_WORD_CAP = 1000
#: The largest seed of a session (``pasta run --seed``, ``session.json``).
MAX_SEED = 2**63 - 1


def _in_range(top: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise InvalidValueError(f"{attribute.name} must be an integer 1..{top}, got {value!r}")

    return check


def _categories(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidValueError(f"categories must be a list of names, got {value!r}")
    if not all(isinstance(c, str) and c.strip() for c in value):
        raise InvalidValueError(f"categories must be non-empty strings, got {list(value)}")
    return tuple(value)


@attrs.frozen
class EpisodeConfig:
    """How one episode is shaped.

    turns (H), slate_size (L), images_per_prompt (M), candidates_per_category
    (L_C / number of categories), categories, word_cap (the last turn's word limit) and the
    reward mode: ``sparse`` rewards only the final turn (the paper's main setting),
    ``dense`` rewards every turn.
    """

    turns: int = attrs.field(default=5, validator=_in_range(MAX_TURNS))
    slate_size: int = attrs.field(default=4, validator=_in_range(MAX_SLATE_SIZE))
    images_per_prompt: int = attrs.field(default=4, validator=_in_range(MAX_IMAGES_PER_PROMPT))
    candidates_per_category: int = attrs.field(default=5, validator=_in_range(MAX_CANDIDATES_PER_CATEGORY))
    categories: tuple[str, ...] = attrs.field(default=DEFAULT_CATEGORIES, converter=_categories)
    word_cap: int = attrs.field(default=62, validator=_in_range(MAX_WORD_CAP))
    reward_mode: str = attrs.field(default="sparse")

    def __attrs_post_init__(self) -> None:
        if len(set(self.categories)) != len(self.categories) or not self.categories:
            raise InvalidValueError(f"categories must be distinct and non-empty: {self.categories}")
        if self.slate_size > len(self.categories):
            raise InvalidValueError(
                f"a slate of {self.slate_size} needs at least that many categories "
                f"(have {len(self.categories)}): at most one candidate per category"
            )
        if self.reward_mode not in REWARD_MODES:
            raise InvalidValueError(f"reward_mode must be one of {REWARD_MODES}")

    @property
    def num_candidates(self) -> int:
        """L_C, the number of candidates asked for per turn."""
        return self.candidates_per_category * len(self.categories)


def word_limit(initial_words: int, turn: int, turns: int, cap: int) -> int:
    """Word limit of turn ``turn`` (1-based) out of ``turns``.

    Grows linearly from the initial prompt's word count (before turn 1) to ``cap`` at the
    last turn, so that every turn may add words. A prompt already longer than the cap keeps
    its own length as the limit: an expansion never has to cut the person's intent.
    """
    if not 1 <= turn <= turns:
        raise InvalidValueError(f"turn {turn} is outside 1..{turns}")
    top = max(cap, initial_words)
    return initial_words + round((top - initial_words) * turn / turns)
