"""Counting and reporting what a dataset reader could not use."""

from __future__ import annotations

from collections import Counter

import attrs

from pasta_core.errors import PastaError


class DatasetError(PastaError):
    """A dataset file is missing or unreadable, or (strict mode) a row is corrupt."""


@attrs.define
class ReadReport:
    """What a reader read and skipped. With ``strict=True`` the first problem raises
    :class:`DatasetError` naming its location instead of being counted."""

    source: str = ""
    strict: bool = False
    read: int = 0
    skipped: int = 0
    reasons: Counter = attrs.field(factory=Counter)
    examples: list[str] = attrs.field(factory=list)
    unmapped: list[str] = attrs.field(factory=list)

    def problem(self, location: str, reason: str) -> None:
        """Record (or, when strict, raise) a corrupt row or missing image."""
        if self.strict:
            raise DatasetError(f"{location}: {reason} (drop --strict to skip such rows)")
        self.skipped += 1
        self.reasons[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{location}: {reason}")

    def summary(self) -> str:
        """One paragraph for the console."""
        text = f"{self.source}: {self.read} read, {self.skipped} skipped"
        if self.reasons:
            text += " (" + ", ".join(f"{n} {r}" for r, n in self.reasons.most_common()) + ")"
        if self.unmapped:
            text += f"; columns not understood: {', '.join(self.unmapped)}"
        return text
