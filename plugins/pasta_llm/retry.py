"""Bounded retries of transient provider errors (429, 5xx, timeouts), honouring Retry-After."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import attrs

from pasta_core.errors import InvalidValueError

T = TypeVar("T")
logger = logging.getLogger("pasta_llm")


def retry_after(exc: BaseException) -> float | None:
    """The wait in seconds a provider asked for in the error's response headers
    (``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date); None if none."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None or not hasattr(headers, "get"):
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def describe(exc: BaseException) -> str:
    """A short name for a failed request in logs: the error type and HTTP status (never its
    message, which may echo the request)."""
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    return f"{type(exc).__name__} {status}" if isinstance(status, int) else type(exc).__name__


@attrs.define
class RetryPolicy:
    """Bounded retries: ``max_retries`` more tries. The wait before each is the provider's
    ``Retry-After`` when its error carries one (at most ``max_retry_after`` seconds), else
    exponential backoff doubling from ``base_delay`` up to ``max_delay`` seconds, scaled by a
    random factor in [0.5, 1] so that many clients do not retry in lock-step. Every retry
    is logged at INFO on the ``pasta_llm`` logger with its wait."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = attrs.field(factory=random.Random)

    def __attrs_post_init__(self) -> None:
        if min(self.max_retries, self.base_delay, self.max_delay, self.max_retry_after) < 0:
            raise InvalidValueError("max_retries and the delays must not be negative")

    def delay(self, attempt: int) -> float:
        """The backoff wait before retry ``attempt`` (0-based)."""
        return min(self.max_delay, self.base_delay * 2**attempt) * self.rng.uniform(0.5, 1.0)

    def wait(self, attempt: int, exc: BaseException) -> tuple[float, bool]:
        """The wait before retry ``attempt`` after ``exc``, and whether the provider set it."""
        asked = retry_after(exc)
        if asked is None:
            return self.delay(attempt), False
        return min(asked, self.max_retry_after), True

    def call(self, fn: Callable[[], T], is_transient: Callable[[BaseException], bool], name: str = "provider") -> T:
        """``fn()``, retried while it raises transient errors; the last error propagates."""
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.max_retries or not is_transient(exc):
                    raise
                seconds, asked = self.wait(attempt, exc)
                logger.info(
                    "%s: %s; retry %d of %d in %.2f s%s", name, describe(exc), attempt + 1,
                    self.max_retries, seconds, " (the provider's Retry-After)" if asked else "",
                )
                self.sleep(seconds)
        raise AssertionError("unreachable")  # pragma: no cover
