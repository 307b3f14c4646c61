"""Bounded exponential backoff for transient provider errors (429, 5xx, timeouts)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import attrs

from pasta_core.errors import InvalidValueError

T = TypeVar("T")


@attrs.define
class RetryPolicy:
    """Bounded exponential backoff: ``max_retries`` more tries, waits doubling from
    ``base_delay`` up to ``max_delay`` seconds, each scaled by a random factor in [0.5, 1]
    so that many clients do not retry in lock-step."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = attrs.field(factory=random.Random)

    def __attrs_post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise InvalidValueError("max_retries and the delays must not be negative")

    def delay(self, attempt: int) -> float:
        """The wait before retry ``attempt`` (0-based)."""
        return min(self.max_delay, self.base_delay * 2**attempt) * self.rng.uniform(0.5, 1.0)

    def call(self, fn: Callable[[], T], is_transient: Callable[[BaseException], bool]) -> T:
        """``fn()``, retried while it raises transient errors; the last error propagates."""
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.max_retries or not is_transient(exc):
                    raise
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover
