"""The ``distilled`` selector: shows the slate a distilled generator proposed, as it is.

A distilled generator answers with the slate itself (at most one prompt per category, best
first), so taking the first candidate of each category in the order given, up to L, is
taking it as it is; that is :class:`pasta_selectors.FirstSelector`'s rule, reused here."""

from __future__ import annotations

from typing import Any

from pasta_core.errors import InvalidValueError
from pasta_selectors import FirstSelector


def create_selector(**options: Any) -> FirstSelector:
    """Factory of the ``distilled`` selector (no options)."""
    if options:
        raise InvalidValueError(f"the distilled selector takes no options, got {sorted(options)}")
    return FirstSelector()
