"""Executors: where independent pieces of work (simulator shards, T2I batches) run.

- ``in-process`` (default): one state in this process, items in order.
- ``process``: a local pool of ``workers`` spawned processes that end when this process
  dies (:func:`~pasta_simulate.pool.spawn_pool`).
- ``ray``: ``workers`` Ray actors, each holding a state; needs ``pip install
  'pasta-t2i[ray]'``. Actors that die are restarted.

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


def get_executor(name: str | Executor | None = None, workers: int | None = None, retries: int = 2,
                 address: str | None = None) -> Executor:
    """An executor by name (``in-process``, ``process``, ``ray``), an executor object as
    it is, or (``None``) the one named by ``PASTA_EXECUTOR`` (default ``in-process``).
    ``workers`` defaults to ``PASTA_WORKERS``, else 2 for ``process`` and one per CPU for
    ``ray``; ``address`` to ``PASTA_RAY_ADDRESS``."""
    if name is not None and not isinstance(name, str):
        return name
    name = name or os.environ.get(ENV_EXECUTOR) or "in-process"
    if workers is None and os.environ.get(ENV_WORKERS):
        workers = int(os.environ[ENV_WORKERS])
    if name == "in-process":
        return InProcessExecutor(retries=retries)
    if name == "process":
        return ProcessExecutor(workers=workers or 2, retries=retries)
    if name == "ray":
        return RayExecutor(workers=workers, retries=retries, address=address or os.environ.get(ENV_RAY_ADDRESS))
    raise InvalidValueError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
