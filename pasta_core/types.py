"""The values PASTA passes around, named in the paper's words.

A *candidate* is a prompt expansion with its category; a *slate* is the L candidates
shown in one turn (at most one per category); a *column* is one slate prompt with its M
rendered images; a *turn* records what was offered and what the person chose; a *history*
is the initial prompt plus the turns so far; a *trajectory* is one finished (or
interrupted) session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError

COMPARISONS = ("better", "same", "worse")
MAX_CRITIQUE_WORDS = 12


def _nonempty_text(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(f"{attribute.name} must be a non-empty string, got {value!r}")


def _clean(value: str) -> str:
    return " ".join(value.split()) if isinstance(value, str) else value


def word_count(text: str) -> int:
    """Number of whitespace-separated words in ``text``."""
    return len(text.split())


@attrs.frozen
class Candidate:
    """A prompt expansion proposed by a candidate generator."""

    text: str = attrs.field(converter=_clean, validator=_nonempty_text)
    category: str = attrs.field(converter=_clean, validator=_nonempty_text)


def _tuple(value: Any) -> tuple:
    return tuple(value)


@attrs.frozen
class Column:
    """One slate prompt with the M images rendered for it (what the person sees)."""

    candidate: Candidate
    images: tuple = attrs.field(converter=_tuple, eq=False, repr=lambda v: f"<{len(v)} images>")
    seeds: tuple[int, ...] = attrs.field(converter=_tuple)

    def __attrs_post_init__(self) -> None:
        if len(self.images) != len(self.seeds):
            raise InvalidValueError(
                f"a column needs one seed per image: {len(self.images)} images, "
                f"{len(self.seeds)} seeds"
            )

    @property
    def prompt(self) -> str:
        return self.candidate.text


def check_slate(slate: Sequence[Candidate], candidates: Sequence[Candidate]) -> None:
    """Raise :class:`InvalidValueError` unless ``slate`` is a valid slate of ``candidates``."""
    if not slate:
        raise InvalidValueError("a slate needs at least one candidate")
    if len(slate) > len(candidates):
        raise InvalidValueError(
            f"slate of {len(slate)} is larger than the {len(candidates)} candidates"
        )
    categories = [c.category for c in slate]
    if len(set(categories)) != len(categories):
        raise InvalidValueError(f"a slate holds at most one candidate per category: {categories}")
    offered = set(candidates)
    for candidate in slate:
        if candidate not in offered:
            raise InvalidValueError(f"slate item {candidate.text!r} is not among the candidates")


def check_critique(critique: str | None) -> str | None:
    """Normalize a critique (None or at most 12 words); raise on a longer one."""
    if critique is None:
        return None
    critique = " ".join(str(critique).split())
    if not critique:
        return None
    if word_count(critique) > MAX_CRITIQUE_WORDS:
        raise InvalidValueError(
            f"a critique has at most {MAX_CRITIQUE_WORDS} words, got {word_count(critique)}"
        )
    return critique


def _seeds_converter(value: Any) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(s) for s in column) for column in value)


def _refs_converter(value: Any) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(str(r) for r in column) for column in value)


def _optional_ints(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)


@attrs.frozen
class Turn:
    """One turn: the candidates, the slate shown, and the person's answer.

    ``choice`` is the 0-based index of the chosen column in ``slate``. ``reward`` is the
    turn's reward when known (simulated users, or labelled later). ``satisfaction`` (1-5 per
    column) and ``comparison`` (better/same/worse than the previous turn) are the rater
    answers of the paper's evaluation phase, when collected. ``fallback`` names the
    generator that wrote the candidates in place of the session's own (e.g. ``template``
    when an LLM provider failed that turn); None when the session's generator did.
    """

    candidates: tuple[Candidate, ...] = attrs.field(converter=_tuple)
    slate: tuple[Candidate, ...] = attrs.field(converter=_tuple)
    choice: int
    critique: str | None = attrs.field(default=None, converter=check_critique)
    reward: float | None = None
    seeds: tuple[tuple[int, ...], ...] = attrs.field(default=(), converter=_seeds_converter)
    image_refs: tuple[tuple[str, ...], ...] = attrs.field(default=(), converter=_refs_converter)
    satisfaction: tuple[int, ...] | None = attrs.field(default=None, converter=_optional_ints)
    comparison: str | None = None
    fallback: str | None = None

    def __attrs_post_init__(self) -> None:
        check_slate(self.slate, self.candidates)
        if isinstance(self.choice, bool) or not isinstance(self.choice, int):
            raise InvalidValueError(f"choice must be a column index, got {self.choice!r}")
        if not 0 <= self.choice < len(self.slate):
            raise InvalidValueError(
                f"choice {self.choice} is out of range for a slate of {len(self.slate)} columns"
            )
        for name in ("seeds", "image_refs"):
            value = getattr(self, name)
            if value and len(value) != len(self.slate):
                raise InvalidValueError(f"{name} needs one entry per slate column")
        if self.satisfaction is not None:
            if len(self.satisfaction) != len(self.slate):
                raise InvalidValueError("satisfaction needs one score per slate column")
            if any(not 1 <= s <= 5 for s in self.satisfaction):
                raise InvalidValueError(f"satisfaction scores are 1-5, got {self.satisfaction}")
        if self.comparison is not None and self.comparison not in COMPARISONS:
            raise InvalidValueError(f"comparison must be one of {COMPARISONS}")

    @property
    def chosen(self) -> Candidate:
        """The candidate of the chosen column."""
        return self.slate[self.choice]


def _prompt_validator(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError("the initial prompt must not be empty")


@attrs.frozen
class History:
    """The initial prompt (the person's intent) and the turns so far."""

    initial_prompt: str = attrs.field(converter=_clean, validator=_prompt_validator)
    turns: tuple[Turn, ...] = attrs.field(default=(), converter=_tuple)

    def append(self, turn: Turn) -> History:
        """A new history with ``turn`` added."""
        return attrs.evolve(self, turns=(*self.turns, turn))

    @property
    def chosen_prompts(self) -> list[str]:
        return [t.chosen.text for t in self.turns]

    @property
    def critiques(self) -> list[str]:
        return [t.critique for t in self.turns if t.critique]

    @property
    def last_prompt(self) -> str:
        """The prompt the next expansions build on: the last chosen one, or the intent."""
        return self.turns[-1].chosen.text if self.turns else self.initial_prompt

    def render_text(self) -> str:
        """The history as text for value models (the paper's Figure 12 layout)."""
        lines = [f"Initial prompt: {self.initial_prompt}"]
        for index, turn in enumerate(self.turns, start=1):
            lines.append(f"Turn {index} slate:")
            lines.extend(f"  {j + 1}. {c.text}" for j, c in enumerate(turn.slate))
            lines.append(f"Turn {index} chosen: {turn.chosen.text}")
            if turn.critique:
                lines.append(f"Turn {index} critique: {turn.critique}")
        return "\n".join(lines)


@attrs.frozen
class Trajectory:
    """One session: its id, the user type when known (simulation), and its turns."""

    session_id: str = attrs.field(validator=_nonempty_text)
    initial_prompt: str = attrs.field(converter=_clean, validator=_prompt_validator)
    turns: tuple[Turn, ...] = attrs.field(default=(), converter=_tuple)
    user_type: int | None = attrs.field(default=None, converter=attrs.converters.optional(int))
    metadata: dict[str, Any] = attrs.field(factory=dict, eq=False)

    @property
    def history(self) -> History:
        return History(self.initial_prompt, self.turns)

    @property
    def rewards(self) -> list[float | None]:
        return [t.reward for t in self.turns]
