"""The loss curve of a run, drawn from its ``metrics.jsonl`` (matplotlib: the ``plot`` extra)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from pasta_core.errors import InvalidValueError, MissingDependencyError, require

log = logging.getLogger(__name__)

#: The picture's file name in a run's folder.
PLOT_FILE = "loss_curve.png"


def read_series(path: str | os.PathLike[str], keys: Sequence[str] | None = None) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (steps, values) of the metrics ``keys`` (default: every ``loss*`` metric) in a
    metrics log; lines that are not JSON objects with a ``step`` are skipped."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            step = int(record["step"])
        except (ValueError, KeyError, TypeError):
            continue
        for key, value in record.items():
            wanted = key in keys if keys is not None else key.startswith("loss")
            if wanted and isinstance(value, (int, float)) and not isinstance(value, bool):
                steps, values = series.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))
    return series


def plot_losses(metrics: str | os.PathLike[str], out: str | os.PathLike[str], title: str = "training loss",
                keys: Sequence[str] | None = None) -> Path:
    """Draw the loss curves of the metrics log ``metrics`` into the PNG ``out``: each
    metric in its own panel, the logged values faint and their moving average on top."""
    require("matplotlib", "plot")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    series = read_series(metrics, keys)
    if not series:
        raise InvalidValueError(f"{metrics} holds no loss values to plot")
    figure, axes = plt.subplots(len(series), 1, figsize=(7, 2.6 * len(series)), squeeze=False, sharex=True)
    for ax, (name, (steps, values)) in zip(axes[:, 0], sorted(series.items())):
        ax.plot(steps, values, color="tab:blue", alpha=0.3, linewidth=1)
        ax.plot(steps, _moving_average(values), color="tab:blue", linewidth=1.8)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    axes[0, 0].set_title(title)
    figure.tight_layout()
    out = Path(out)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _moving_average(values: Sequence[float], window: int | None = None) -> list[float]:
    window = window or max(1, len(values) // 20)
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_run(folder: str | os.PathLike[str], title: str, metrics_file: str = "metrics.jsonl") -> Path | None:
    """The loss curve of the run in ``folder`` as ``folder/loss_curve.png``; None (with a
    warning logged) when there is nothing to draw or matplotlib is not installed."""
    folder = Path(folder)
    source = folder / metrics_file
    if not source.is_file():
        log.warning("no %s in %s: no loss curve drawn (--metrics jsonl writes it)", metrics_file, folder)
        return None
    try:
        path = plot_losses(source, folder / PLOT_FILE, title)
    except (MissingDependencyError, InvalidValueError) as exc:
        log.warning("no loss curve drawn: %s", exc)
        return None
    log.info("loss curve: %s", path)
    return path
