"""Executors: where independent pieces of work (simulator shards, T2I batches) run.

- ``in-process`` (default): one state in this process, items in order.
- ``process``: a local pool of ``workers`` spawned processes that end when this process
  dies (:func:`~pasta_simulate.pool.spawn_pool`).
- ``ray``: ``workers`` Ray actors, each holding a state; needs ``pip install
  'pasta-t2i[ray]'``. Actors that die are restarted. ``gpus_per_worker`` (or
  ``PASTA_WORKER_GPUS``) gives each actor a GPU share: one T2I pipeline per actor.

Every executor has one method, ``map(setup, task, items)`` (see
:mod:`pasta_simulate.local`). The simulator uses them through ``simulate(...,
executor="ray")`` or the environment switch ``PASTA_EXECUTOR=ray`` (see docs/scaling.md).
"""

from __future__ import annotations

import os

from pasta_core.errors import InvalidValueError
from pasta_simulate.local import Executor, ExecutorError, InProcessExecutor, ProcessExecutor
from pasta_simulate.pool import spawn_pool
from pasta_simulate.ray_executor import RayExecutor

__all__ = ["EXECUTORS", "Executor", "ExecutorError", "InProcessExecutor", "ProcessExecutor", "RayExecutor",
           "get_executor", "spawn_pool"]

EXECUTORS = ("in-process", "process", "ray")
ENV_EXECUTOR = "PASTA_EXECUTOR"
ENV_WORKERS = "PASTA_WORKERS"
ENV_RAY_ADDRESS = "PASTA_RAY_ADDRESS"
ENV_WORKER_GPUS = "PASTA_WORKER_GPUS"


def _worker_gpus(value: float | None) -> float:
    if value is None:
        text = os.environ.get(ENV_WORKER_GPUS, "").strip()
        try:
            value = float(text) if text else 0.0
        except ValueError:
            raise InvalidValueError(f"{ENV_WORKER_GPUS} must be a number of GPUs, got {text!r}") from None
    if not 0 <= value <= 64:
        raise InvalidValueError(f"GPUs per worker must lie in 0..64, got {value:g}")
    return value


def get_executor(name: str | Executor | None = None, workers: int | None = None, retries: int = 2,
                 address: str | None = None, gpus_per_worker: float | None = None) -> Executor:
    """An executor by name (``in-process``, ``process``, ``ray``), an executor object as
    it is, or (``None``) the one named by ``PASTA_EXECUTOR`` (default ``in-process``).
    ``workers`` defaults to ``PASTA_WORKERS``, else 2 for ``process`` and one per CPU (or
    GPU share) for ``ray``; ``address`` to ``PASTA_RAY_ADDRESS``; ``gpus_per_worker`` (Ray
    only) to ``PASTA_WORKER_GPUS``, else none."""
    if name is not None and not isinstance(name, str):
        return name
    name = name or os.environ.get(ENV_EXECUTOR) or "in-process"
    if workers is None and os.environ.get(ENV_WORKERS):
        workers = int(os.environ[ENV_WORKERS])
    if gpus_per_worker and name != "ray":
        raise InvalidValueError(f"GPUs per worker (--worker-gpus) need the ray executor, not {name!r}")
    if name == "in-process":
        return InProcessExecutor(retries=retries)
    if name == "process":
        return ProcessExecutor(workers=workers or 2, retries=retries)
    if name == "ray":
        return RayExecutor(workers=workers, retries=retries, address=address or os.environ.get(ENV_RAY_ADDRESS),
                           gpus_per_worker=_worker_gpus(gpus_per_worker))
    raise InvalidValueError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
