"""One tracked training run: the ``--metrics`` sinks, the pace estimate and, at the end,
the loss curve; what ``user-model train`` and ``value train`` hand their trainer as its
step callback."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pasta_tracking.pace import Pace
from pasta_tracking.plot import plot_run
from pasta_tracking.sinks import MetricsSink, open_sinks

log = logging.getLogger(__name__)


class RunTracker:
    """The step callback of a run: times the first steps (:class:`Pace`) and feeds the
    sinks the metrics of every ``log_every``-th step."""

    def __init__(self, sinks: Sequence[MetricsSink], pace: Pace | None, log_every: int, total: int) -> None:
        self.sinks, self.pace, self.log_every, self.total = list(sinks), pace, log_every, total

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        """Call after each optimizer step with its number (1-based) and metrics."""
        if self.pace is not None:
            self.pace(step)
        if step % self.log_every == 0 or step == self.total:
            for sink in self.sinks:
                sink.log(step, metrics)

    def close(self) -> None:
        """Close every sink (each one, even if another fails)."""
        with contextlib.ExitStack() as stack:
            for sink in self.sinks:
                stack.callback(sink.close)


def is_main_process() -> bool:
    """False in the processes of a torchrun launch other than rank 0 (they log nothing)."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def track_run(folder: str | os.PathLike[str], name: str, metrics: Sequence[str], steps: int,
              log_every: int = 10, config: Mapping[str, Any] | None = None,
              plot: bool = True) -> Iterator[RunTracker]:
    """A :class:`RunTracker` for a run of ``steps`` steps writing into ``folder``, with
    the sinks of ``metrics``; when the block ends without an error, the loss curve is
    drawn from ``folder/metrics.jsonl`` (``plot``)."""
    main = is_main_process()
    sinks = open_sinks(metrics, folder, name, config) if main else []
    tracker = RunTracker(sinks, Pace(steps, what=name) if main else None, log_every, steps)
    try:
        yield tracker
    finally:
        tracker.close()
    if plot and main and "none" not in metrics:
        plot_run(Path(folder), f"{name}: {Path(folder).name}")
