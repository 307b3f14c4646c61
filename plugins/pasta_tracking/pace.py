"""The time per step and the estimate of the whole run, logged once the first steps are
timed (the very first step is left out of the timing: it pays for lazy set-up)."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def duration(seconds: float) -> str:
    """``"850 ms"``, ``"2.8 s"``, ``"42 s"``, ``"3 min 20 s"``, ``"2 h 05 min"``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest:02d} min"


class Pace:
    """Called with the step number after every step (the trainers' ``on_step``); logs,
    once ``min_steps`` steps after the first have taken ``min_seconds``, the time per step
    and the estimated time of the remaining steps up to ``total``."""

    def __init__(self, total: int, what: str = "training", min_steps: int = 10, min_seconds: float = 5.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.total, self.what = total, what
        self.min_steps, self.min_seconds = min_steps, min_seconds
        self.clock = clock
        self.first: tuple[int, float] | None = None
        #: (seconds per step, estimated seconds left) once reported.
        self.estimate: tuple[float, float] | None = None

    def __call__(self, step: int) -> None:
        now = self.clock()
        if self.first is None:
            self.first = (step, now)
            return
        if self.estimate is not None:
            return
        steps, seconds = step - self.first[0], now - self.first[1]
        if (steps >= self.min_steps and seconds >= self.min_seconds) or step >= self.total:
            self.report(steps, seconds, step)

    def report(self, steps: int, seconds: float, step: int) -> None:
        """Log the pace measured over ``steps`` steps taking ``seconds``, at ``step``."""
        if steps <= 0:
            return
        per_step = seconds / steps
        left = max(self.total - step, 0) * per_step
        self.estimate = (per_step, left)
        finish = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=left)
        log.info("%s: %s per step (timed over %d steps); %d steps take about %s, %s left (done about %s UTC)",
                 self.what, duration(per_step), steps, self.total, duration(per_step * self.total),
                 duration(left), finish.strftime("%H:%M"))
