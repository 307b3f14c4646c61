"""The simulator on an executor: each worker builds a :class:`Simulator` once and
returns whole shards as Parquet bytes, which the caller writes as they finish.

Workers in other processes (``process``, ``ray``) build their components from a copy of
the caller's plugin set (made from its :meth:`~pasta_core.plugins.Plugins.recipe`); the
``in-process`` executor uses the caller's plugin set itself.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pasta_core.errors import InvalidValueError
from pasta_simulate.local import Executor, InProcessExecutor
from pasta_simulate.shards import (
    check_manifest,
    record_shard,
    shard_name,
    shard_paths,
    unfinished_shards,
    write_bytes_atomically,
)
from pasta_simulate.simulator import Simulator
from pasta_simulate.spec import SimulationResult, SimulationSpec

if TYPE_CHECKING:
    from pasta_core.plugins import PluginRecipe, Plugins


@attrs.frozen
class SimulatorSetup:
    """Builds a worker's :class:`Simulator` (picklable, run in the worker)."""

    spec: SimulationSpec
    folder: str
    recipe: PluginRecipe
    batch_size: int = 50

    def __call__(self) -> Simulator:
        return Simulator(self.spec, self.recipe.build(), self.folder, batch_size=self.batch_size)


def shard_task(simulator: Simulator, shard: int) -> tuple[int, bytes]:
    """Compute shard ``shard`` on a worker: (trajectory count, the Parquet file's bytes).

    The file is encoded (and compressed) on the worker; the caller only writes the bytes,
    so workers need no shared file system (unless images are saved as files)."""
    return simulator.encode_shard(shard)


def simulate_on(executor: Executor, spec: SimulationSpec, folder: str | os.PathLike[str], batch_size: int = 50,
                progress: bool = True, user_model: Any = None, on_shard: Callable[[int], None] | None = None,
                *, plugins: Plugins) -> SimulationResult:
    """Write every unfinished shard of ``spec`` to ``folder`` with ``executor``; shards are
    written as they finish, so a killed run keeps them and a rerun skips them.

    ``plugins`` builds the components (a worker in another process uses a copy of it)."""
    from tqdm.auto import tqdm

    folder = Path(folder)
    check_manifest(folder, spec.to_json())
    started = time.perf_counter()
    todo = unfinished_shards(folder, spec.shard_sizes())
    setup: Callable[[], Simulator] = functools.partial(Simulator, spec, plugins, folder, user_model, batch_size)
    if not isinstance(executor, InProcessExecutor):
        if user_model is not None:
            raise InvalidValueError(f"the {executor.name} executor builds the user model from the spec; "
                                    "pass user_model=None")
        setup = SimulatorSetup(spec, str(folder), plugins.recipe(), batch_size)
    computed = 0
    with tqdm(total=spec.count, initial=spec.count - spec.trajectories_in(todo), disable=not progress,
              desc=f"simulating ({executor.name})", unit="traj") as bar:
        for shard, (count, data) in executor.map(setup, shard_task, todo):
            write_bytes_atomically(folder / shard_name(shard), data)
            record_shard(folder, shard)
            computed += count
            bar.update(count)
            if on_shard is not None:
                on_shard(shard)
    return SimulationResult(folder, shard_paths(folder, spec.num_shards), spec.count, computed,
                            time.perf_counter() - started)
