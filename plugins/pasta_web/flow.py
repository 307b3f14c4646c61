"""The turn logic of a web session, free of HTTP: phases, input checks and the
evaluation-phase answers (the paper's appendix B.2).

A session moves through three phases: ``interaction`` (H turns of picking a column),
``evaluation`` (for every turn: re-confirm the preferred column, a 1-5 satisfaction per
column, a free-text reason, and better/same/worse than the previous turn from turn 2 on;
then one overall 1-5 score) and ``done``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError
from pasta_core.types import COMPARISONS, MAX_CRITIQUE_WORDS, check_critique, word_count

PHASES = ("interaction", "evaluation", "done")
MAX_PROMPT_WORDS = 12
MAX_PROMPT_CHARS = 200
MAX_CRITIQUE_CHARS = 200
MAX_REASON_CHARS = 1000
SCORES = range(1, 6)
#: Whitespace a person may type (collapsed or kept as text); every other control
#: character (NUL, escape, C1 controls) and unpaired surrogate halves are refused.
_TYPED_WHITESPACE = frozenset("\t\n\r")


def check_plain_text(text: str, what: str) -> str:
    """``text`` unchanged if it holds no control characters (other than tab and line
    breaks) and no unpaired surrogates; otherwise a clear error naming ``what``."""
    for char in text:
        if char not in _TYPED_WHITESPACE and unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidValueError(
                f"Please use plain text: {what} contains control characters, which are not allowed."
            )
    return text


def check_prompt(text: Any) -> str:
    """The initial prompt, whitespace-normalized; at most 12 words (the paper's request)."""
    if not isinstance(text, str):
        raise InvalidValueError("the prompt must be text")
    text = " ".join(check_plain_text(text, "the prompt").split())
    if not text:
        raise InvalidValueError("Please describe the picture you have in mind.")
    if len(text) > MAX_PROMPT_CHARS or word_count(text) > MAX_PROMPT_WORDS:
        raise InvalidValueError(
            f"Please keep your prompt to at most {MAX_PROMPT_WORDS} words "
            f"(you have {word_count(text)}): a short idea is enough, the pictures do the rest."
        )
    return text


def check_critique_text(text: Any) -> str | None:
    """An optional critique of at most 12 words (None when empty)."""
    if text is None:
        return None
    if not isinstance(text, str) or len(text) > MAX_CRITIQUE_CHARS:
        raise InvalidValueError(f"a critique is a short text of at most {MAX_CRITIQUE_WORDS} words")
    check_plain_text(text, "the critique")
    try:
        return check_critique(text)
    except InvalidValueError:
        raise InvalidValueError(
            f"Please keep the critique to at most {MAX_CRITIQUE_WORDS} words "
            f"(you have {word_count(text)})."
        ) from None


def check_score(value: Any, what: str) -> int:
    """A 1-5 score (integers only, booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in SCORES:
        raise InvalidValueError(f"{what} is a whole number from 1 to 5, got {value!r}")
    return value


def check_column(value: Any, columns: int, what: str = "column") -> int:
    """A 0-based column index below ``columns``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < columns:
        raise InvalidValueError(f"{what} must be a column from 1 to {columns}")
    return value


def _optional_scores(value: Any) -> tuple[int | None, ...]:
    return tuple(value) if value is not None else ()


@attrs.frozen
class TurnEvaluation:
    """The evaluation-phase answers about one turn (any of them may still be missing).

    ``preferred`` is the re-confirmed 0-based column, ``satisfaction`` one 1-5 score per
    column (None where not yet given), ``comparison`` better/same/worse than the previous
    turn (asked from turn 2 on).
    """

    turn: int
    preferred: int | None = None
    satisfaction: tuple[int | None, ...] = attrs.field(default=(), converter=_optional_scores)
    reason: str | None = None
    comparison: str | None = None

    def update(self, answers: Mapping[str, Any], columns: int) -> TurnEvaluation:
        """These answers merged in, each validated; keys not given keep their value."""
        unknown = set(answers) - {"preferred", "satisfaction", "reason", "comparison"}
        if unknown:
            raise InvalidValueError(f"unknown answers: {sorted(unknown)}")
        changes: dict[str, Any] = {}
        if answers.get("preferred") is not None:
            changes["preferred"] = check_column(answers["preferred"], columns, "the preferred column")
        if answers.get("satisfaction") is not None:
            changes["satisfaction"] = _check_satisfaction(answers["satisfaction"], columns)
        if "reason" in answers:
            changes["reason"] = _check_reason(answers["reason"])
        if answers.get("comparison") is not None:
            if self.turn < 2:
                raise InvalidValueError("turn 1 has no previous turn to compare with")
            if answers["comparison"] not in COMPARISONS:
                raise InvalidValueError(f"comparison must be one of {', '.join(COMPARISONS)}")
            changes["comparison"] = answers["comparison"]
        return attrs.evolve(self, **changes)

    def missing(self, columns: int) -> list[str]:
        """The questions of this turn still unanswered."""
        gaps = []
        if self.preferred is None:
            gaps.append("preferred column")
        if len(self.satisfaction) != columns or any(s is None for s in self.satisfaction):
            gaps.append("satisfaction for every column")
        if not self.reason:
            gaps.append("reason")
        if self.turn >= 2 and self.comparison is None:
            gaps.append("comparison with the previous turn")
        return gaps

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _check_satisfaction(value: Any, columns: int) -> tuple[int | None, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != columns:
        raise InvalidValueError(f"satisfaction needs one score per column ({columns})")
    return tuple(None if s is None else check_score(s, "a satisfaction score") for s in value)


def _check_reason(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON_CHARS:
        raise InvalidValueError(f"the reason is a text of at most {MAX_REASON_CHARS} characters")
    return check_plain_text(value, "the reason").strip() or None


def evaluation_gaps(
    evaluations: Sequence[TurnEvaluation], turns: int, columns: Sequence[int], overall: int | None
) -> list[str]:
    """Everything still unanswered in the evaluation phase (empty when it may end)."""
    by_turn = {e.turn: e for e in evaluations}
    gaps: list[str] = []
    for turn in range(1, turns + 1):
        evaluation = by_turn.get(turn, TurnEvaluation(turn))
        gaps.extend(f"turn {turn}: {gap}" for gap in evaluation.missing(columns[turn - 1]))
    if overall is None:
        gaps.append("overall score")
    return gaps


def phase_after_turns(answered: int, turns: int) -> str:
    """``interaction`` until every turn is answered, then ``evaluation``."""
    return "evaluation" if answered >= turns else "interaction"
