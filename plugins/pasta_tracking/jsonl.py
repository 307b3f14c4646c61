"""``--metrics jsonl``: ``metrics.jsonl`` in a run's folder, one JSON object per logged step.

The IQL trainer writes no metrics itself; ``value train`` hands it a :class:`JsonlMetrics`
unless ``--metrics none`` (it is what resume cuts back and what the loss curve is drawn
from).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pasta_core.training import METRICS_FILE, append_metrics, truncate_metrics


class JsonlMetrics:
    """The ``metrics.jsonl`` of ``folder`` as a trainer's metrics log
    (:class:`pasta_core.iql.trainer.MetricsLog`)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / METRICS_FILE

    def start(self, step: int) -> None:
        """A run from scratch (``step`` 0) starts a new file; a resumed one cuts the file
        back to the records of steps up to ``step``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if step == 0:
            self.path.unlink(missing_ok=True)
        else:
            truncate_metrics(self.path, step)

    def write(self, record: Mapping[str, float]) -> None:
        """Append one logged step's record."""
        append_metrics(self.path, record)


def jsonl_log(names: tuple[str, ...] | list[str], folder: str | os.PathLike[str]) -> JsonlMetrics | None:
    """The metrics log of a ``--metrics`` choice: ``metrics.jsonl`` in ``folder`` unless
    the choice is ``none``."""
    return None if "none" in names else JsonlMetrics(folder)
