"""``--metrics`` backends: where a run's step metrics go besides ``metrics.jsonl``.

``jsonl`` is the trainers' own log (``metrics.jsonl`` in the output folder, cut back on
resume); the others are sinks fed from the trainers' step callbacks, each imported only
when chosen and installed through its own extra:

- ``tensorboard`` (``pasta-t2i[tensorboard]``): event files under ``OUT/tensorboard``;
- ``wandb`` (``pasta-t2i[wandb]``): a Weights & Biases run (``WANDB_PROJECT``, default
  ``pasta``; ``WANDB_MODE=offline`` keeps it on disk);
- ``mlflow`` (``pasta-t2i[mlflow]``): an MLflow run (``MLFLOW_TRACKING_URI``, default
  :func:`default_tracking_uri`: ``OUT/mlflow.db``, or ``OUT/mlruns`` without SQLAlchemy).

A sink is any object with ``log(step, metrics)`` and ``close()``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import click

from pasta_core.errors import InvalidValueError, require

#: The names ``--metrics`` accepts (comma-separated; ``none``: no metrics.jsonl either, where
#: the trainer allows it).
CHOICES = ("jsonl", "tensorboard", "wandb", "mlflow", "none")


class MetricsSink(Protocol):
    """Receives a run's metrics at the logged steps."""

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record ``metrics`` (name -> number) of ``step``."""

    def close(self) -> None:
        """Flush and release what the sink holds (called once, at the end of the run)."""


def parse_metrics(value: str | Sequence[str]) -> tuple[str, ...]:
    """The backend names of a ``--metrics`` value (``"jsonl,tensorboard"`` or a list);
    an unknown name raises :class:`InvalidValueError` listing the known ones."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(n.strip().lower() for n in items if n.strip()))
    unknown = [n for n in names if n not in CHOICES]
    if unknown:
        raise InvalidValueError(f"unknown --metrics {', '.join(unknown)}; choose from {', '.join(CHOICES)}")
    if "none" in names and len(names) > 1:
        raise InvalidValueError("--metrics none cannot be combined with other backends")
    return names or ("none",)


#: The module each backend imports, and the extra that installs it.
PACKAGES = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow")}


def check_installed(names: Sequence[str]) -> None:
    """Raise :class:`~pasta_core.errors.MissingDependencyError` naming the extra of the
    first backend in ``names`` whose package is not installed (checked without importing
    it, so a command can refuse before its data is read)."""
    import importlib.util

    from pasta_core.errors import MissingDependencyError

    for name in names:
        module, extra = PACKAGES.get(name, (None, None))
        if module is not None and extra is not None and importlib.util.find_spec(module) is None:
            raise MissingDependencyError(module, extra)


class MetricsChoice(click.ParamType):
    """A click type for ``--metrics``: comma-separated names of :data:`CHOICES`."""

    name = "metrics"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_metrics(value)
        except InvalidValueError as exc:
            self.fail(str(exc), param, ctx)


class TensorBoardSink:
    """Scalars ``PREFIX/NAME`` in TensorBoard event files under ``folder``."""

    def __init__(self, folder: str | os.PathLike[str], prefix: str) -> None:
        require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.prefix = prefix
        self.writer = SummaryWriter(str(folder))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(f"{self.prefix}/{key}", float(value), step)

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """One Weights & Biases run; ``config`` becomes the run's config."""

    def __init__(self, folder: str | os.PathLike[str], name: str, config: Mapping[str, Any]) -> None:
        wandb = require("wandb", "wandb")
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "pasta"), name=name, dir=str(folder),
                              config=dict(config))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log(dict(metrics), step=step)

    def close(self) -> None:
        self.run.finish()


def _first_sentence(exc: BaseException) -> str:
    """The first sentence of an error's message (its type's name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0].split(". ")[0] if text else type(exc).__name__


def default_tracking_uri(folder: str | os.PathLike[str]) -> str:
    """Where an MLflow run goes when ``MLFLOW_TRACKING_URI`` is not set: an SQLite store
    ``folder/mlflow.db`` (MLflow's own default since 3; the full ``mlflow`` package brings
    SQLAlchemy), else the file store ``folder/mlruns`` (``mlflow-skinny``; MLflow 3 opens it
    only with ``MLFLOW_ALLOW_FILE_STORE=true``)."""
    import importlib.util

    folder = Path(folder).resolve()
    if importlib.util.find_spec("sqlalchemy") is not None:
        return f"sqlite:///{folder / 'mlflow.db'}"
    return (folder / "mlruns").as_uri()


class MlflowSink:
    """One MLflow run; ``config`` is logged as its parameters. A store MLflow refuses
    raises :class:`InvalidValueError` in one line naming it."""

    def __init__(self, folder: str | os.PathLike[str], name: str, config: Mapping[str, Any]) -> None:
        self.mlflow = require("mlflow", "mlflow")
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            self.mlflow.set_tracking_uri(default_tracking_uri(folder))
        try:
            self.run = self.mlflow.start_run(run_name=name)
        except Exception as exc:  # noqa: BLE001 - MLflow's errors have no common base outside mlflow
            raise InvalidValueError(f"mlflow cannot open a run at {self.mlflow.get_tracking_uri()} "
                                    f"({_first_sentence(exc)}); set MLFLOW_TRACKING_URI to a store "
                                    "it accepts (sqlite:///mlflow.db, or a file: folder with "
                                    "MLFLOW_ALLOW_FILE_STORE=true)") from None
        params = {k: str(v)[:500] for k, v in config.items()}  # MLflow caps a parameter's length
        if params:
            self.mlflow.log_params(params)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


def open_sinks(names: Sequence[str], folder: str | os.PathLike[str], name: str,
               config: Mapping[str, Any] | None = None) -> list[MetricsSink]:
    """The sinks of ``names`` (``jsonl`` and ``none`` are the trainer's own and open
    nothing) for a run named ``name`` writing under ``folder``; a backend whose package is
    missing raises :class:`~pasta_core.errors.MissingDependencyError` naming its extra."""
    folder, config = Path(folder), dict(config or {})
    sinks: list[MetricsSink] = []
    try:
        for backend in names:
            if backend == "tensorboard":
                sinks.append(TensorBoardSink(folder / "tensorboard", name))
            elif backend == "wandb":
                sinks.append(WandbSink(folder, name, config))
            elif backend == "mlflow":
                sinks.append(MlflowSink(folder, name, config))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks
