"""``--metrics jsonl``: ``metrics.jsonl`` in a run's folder, one JSON object per logged step.

The IQL trainer writes no metrics itself; ``value train`` hands it a :class:`JsonlMetrics`
unless ``--metrics none`` (it is what resume cuts back and what the loss curve is drawn
from). The EM trainer writes the same file with :func:`append_metrics` and
:func:`truncate_metrics`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pasta_core.atomic import write_text

METRICS_FILE = "metrics.jsonl"


def append_metrics(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """Append one record (a JSON line) to the metrics log ``path``."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def truncate_metrics(path: str | os.PathLike[str], step: int) -> None:
    """Cut the metrics log ``path`` back to the records of steps <= ``step`` (a resumed run
    logs the later ones again); a line a kill left half-written is dropped. Atomic."""
    path = Path(path)
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    kept, changed = [], bool(text) and not text.endswith("\n")
    for line in text.splitlines():
        try:
            record = json.loads(line)
            keep = isinstance(record, dict) and int(record["step"]) <= step
        except (ValueError, KeyError, TypeError):
            keep = False
        if keep:
            kept.append(line)
        else:
            changed = True
    if changed:
        write_text(path, "".join(line + "\n" for line in kept))


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
