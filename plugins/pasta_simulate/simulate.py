"""The simulator: N trajectories of a user model playing against an agent, on disk.

Trajectories are written in shards of ``shard_size`` sessions (``part-NNNNN.parquet``,
see :mod:`pasta_simulate.shards`) beside the settings (``simulation.json``). A shard is
written atomically once complete, so a killed run keeps every finished shard; a rerun
with the same settings verifies them (against the row count and checksum the manifest
records), skips the good ones and recomputes the rest, giving the same files, whatever the
executor or the number of workers (see :mod:`pasta_simulate.simulator`).

Python::

    from pasta_core.plugins import get_plugins
    from pasta_simulate.simulate import SimulationSpec, simulate

    simulate(SimulationSpec(count=100, user_model="planted"), "runs/sim", plugins=get_plugins())
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pasta_core.errors import InvalidValueError, PastaError
from pasta_simulate.executors import get_executor, spawn_pool
from pasta_simulate.prompts import MAX_PROMPT_WORDS, load_prompts
from pasta_simulate.shards import (
    EMBEDDING_COLUMN,
    MANIFEST,
    check_manifest,
    read_embeddings,
    record_shard,
    run_shards,
    shard_paths,
    unfinished_shards,
    write_shard,
)
from pasta_simulate.simulator import Simulator
from pasta_simulate.spec import SimulationResult, SimulationSpec
from pasta_simulate.workers import simulate_on

if TYPE_CHECKING:
    from pasta_core.plugins import PluginRecipe, Plugins

__all__ = ["EMBEDDING_COLUMN", "MANIFEST", "MAX_PROMPT_WORDS", "SimulationResult", "SimulationSpec", "Simulator",
           "check_manifest", "load_prompts", "read_embeddings", "run_shards", "simulate", "simulate_on",
           "write_shard"]


def simulate(spec: SimulationSpec, folder: str | os.PathLike[str], progress: bool = True,
             user_model: Any = None, batch_size: int = 50, workers: int = 1,
             executor: Any = None, worker_gpus: float | None = None, *, plugins: Plugins) -> SimulationResult:
    """Simulate ``spec.count`` trajectories into ``folder`` (resuming a killed run), with
    components built from ``plugins``.

    ``workers`` > 1 computes shards in that many processes (each builds its own
    components from ``spec`` and a copy of ``plugins``, see
    :meth:`~pasta_core.plugins.Plugins.recipe`; a ``user_model`` object cannot be passed
    then). The shards are the same whatever the number of workers.

    ``executor`` (``in-process``, ``process``, ``ray`` or an executor object, see
    :mod:`pasta_simulate.executors`; default: the ``PASTA_EXECUTOR`` environment switch)
    runs the shards there instead, with ``workers`` workers when ``workers`` > 1;
    ``worker_gpus`` gives each Ray worker that share of a GPU (one T2I pipeline per worker).
    """
    if executor is not None or os.environ.get("PASTA_EXECUTOR") or worker_gpus:
        chosen = get_executor(executor, workers=workers if workers > 1 else None, gpus_per_worker=worker_gpus)
        return simulate_on(chosen, spec, folder, batch_size=batch_size, progress=progress, user_model=user_model,
                           plugins=plugins)
    if workers > 1:
        if user_model is not None:
            raise InvalidValueError("workers > 1 builds the user model from the spec; pass user_model=None")
        return _simulate_parallel(spec, Path(folder), workers, batch_size, progress, plugins.recipe())
    return _simulate_here(Simulator(spec, plugins, folder, user_model, batch_size), progress)


def _simulate_here(simulator: Simulator, progress: bool) -> SimulationResult:
    spec, folder = simulator.spec, simulator.folder
    check_manifest(folder, spec.to_json())
    started = time.perf_counter()

    def make_shard(indices: range) -> None:
        simulator.make_shard(indices.start // spec.shard_size)

    shards, computed = run_shards(folder, spec.count, spec.shard_size, make_shard, progress)
    return SimulationResult(folder, tuple(shards), spec.count, computed, time.perf_counter() - started)


_worker: Simulator | PastaError | None = None


def _init_worker(spec: SimulationSpec, folder: str, batch_size: int, recipe: PluginRecipe) -> None:
    """A pool worker's entry point: its copy of the caller's plugin set, and a simulator."""
    global _worker
    try:
        _worker = Simulator(spec, recipe.build(), folder, batch_size=batch_size)
    except PastaError as exc:  # raised by its shards, so the caller gets the line, not a broken pool
        _worker = PastaError(str(exc))


def _run_worker_shard(shard: int) -> int:
    if _worker is None:
        raise RuntimeError("the simulation worker was not initialised")
    if isinstance(_worker, PastaError):
        raise _worker
    return _worker.make_shard(shard)


def _simulate_parallel(spec: SimulationSpec, folder: Path, workers: int, batch_size: int,
                       progress: bool, recipe: PluginRecipe) -> SimulationResult:
    from tqdm.auto import tqdm

    check_manifest(folder, spec.to_json())
    started = time.perf_counter()
    todo = unfinished_shards(folder, spec.shard_sizes())
    computed = 0
    # spawn_pool gives each worker its share of the cores (they would each take them all)
    with spawn_pool(workers, _init_worker, (spec, str(folder), batch_size, recipe)) as pool, \
            tqdm(total=spec.count, initial=spec.count - spec.trajectories_in(todo), disable=not progress,
                 desc="simulating", unit="traj") as bar:
        for shard, count in zip(todo, pool.map(_run_worker_shard, todo)):
            record_shard(folder, shard)  # pool.map gives the results in order
            computed += count
            bar.update(count)
    return SimulationResult(folder, shard_paths(folder, spec.num_shards), spec.count, computed,
                            time.perf_counter() - started)
