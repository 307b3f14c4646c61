"""Executors: where independent pieces of work (simulator shards, T2I batches) run.

Every executor has one method, :meth:`Executor.map`: ``setup`` builds a *worker state*
once per worker (for the simulator: the T2I model, the user model, the generator and the
selector), ``task(state, item)`` does one piece of work with it, and results come back
**in completion order** as ``(item, result)`` pairs, so a caller can write each one as
soon as it is ready. A task that raises (or whose worker dies) is run again, up to
``retries`` more times, before the run fails with :class:`ExecutorError`.

- ``in-process`` (default): one state in this process, items in order.
- ``process``: a local pool of ``workers`` spawned processes (``setup`` and ``task``
  must be picklable: module-level functions or attrs instances of module-level classes).
  Its workers end when this process dies (:func:`spawn_pool`).
- ``ray``: ``workers`` Ray actors, each holding a state; needs ``pip install
  'pasta-t2i[ray]'``. Connects to ``address`` (``auto`` for a running cluster) or starts a
  local Ray; an already initialised Ray is used as it is. Actors that die are restarted.

The simulator uses them through ``simulate(..., executor="ray")`` or the environment
switch ``PASTA_EXECUTOR=ray`` (see docs/scaling.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs

from pasta_core.errors import InvalidValueError, PastaError

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

EXECUTORS = ("in-process", "process", "ray")
ENV_EXECUTOR = "PASTA_EXECUTOR"
ENV_WORKERS = "PASTA_WORKERS"
ENV_RAY_ADDRESS = "PASTA_RAY_ADDRESS"


class ExecutorError(PastaError):
    """A task still failed after its retries (the message names the task and the cause)."""


class Executor(Protocol):
    """Runs ``task(state, item)`` for every item on workers that each built ``state = setup()``."""

    name: str

    def map(self, setup: Callable[[], S], task: Callable[[S, T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """(item, result) pairs in completion order; failed tasks are retried."""
        ...


def _give_up(item: Any, attempts: int, error: BaseException) -> ExecutorError:
    return ExecutorError(
        f"task {item!r} failed {attempts} time(s); last error: {type(error).__name__}: {error}. "
        "Finished work is kept: fix the cause and rerun to continue."
    )


# ----- in-process -----------------------------------------------------------------------
@attrs.define
class InProcessExecutor:
    """Everything in this process, in order (the default, and the reference result)."""

    retries: int = 0
    name: str = "in-process"

    def map(self, setup: Callable[[], S], task: Callable[[S, T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        state = setup()
        for item in items:
            for attempt in range(self.retries + 1):
                try:
                    result = task(state, item)
                    break
                except Exception as exc:
                    if attempt == self.retries:
                        raise _give_up(item, attempt + 1, exc) from exc
            yield item, result


# ----- local process pool ---------------------------------------------------------------
_state: Any = None


def _init_process(setup: Callable[[], Any]) -> None:
    global _state
    _state = setup()


def _run_in_process(task: Callable[[Any, Any], Any], item: Any) -> Any:
    return task(_state, item)


def spawn_pool(workers: int, initializer: Callable[..., Any] | None = None, initargs: tuple[Any, ...] = ()) -> Any:
    """A ``ProcessPoolExecutor`` of ``workers`` spawned processes that end with their parent.

    A parent killed without cleanup (SIGKILL, or SIGTERM outside a ``with`` block) leaves
    the workers of a plain pool blocked on their task queue, each holding its models in
    memory. Every worker of this pool runs :func:`exit_with_parent` and takes its share of
    the cores (:func:`limit_threads`) before ``initializer``.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_watched, initargs=(threads, initializer, initargs))


def _init_watched(threads: int, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    exit_with_parent()
    limit_threads(threads)
    if initializer is not None:
        initializer(*initargs)


def exit_with_parent(interval: float = 1.0) -> None:
    """End this process within ``interval`` seconds of its parent's death (a daemon thread
    notices that the process was handed to another parent)."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="pasta-parent-watch", daemon=True).start()


def limit_threads(threads: int) -> None:
    """Share the cores among workers: numeric libraries would each take all of them."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


@attrs.define
class ProcessExecutor:
    """A local pool of ``workers`` spawned processes, each with its own state."""

    workers: int = 2
    retries: int = 2
    name: str = "process"

    def map(self, setup: Callable[[], S], task: Callable[[S, T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pending_items = list(items)
        attempts: dict[int, int] = {}
        while pending_items:
            pool = spawn_pool(self.workers, _init_process, (setup,))
            futures = {pool.submit(_run_in_process, task, item): n for n, item in enumerate(pending_items)}
            try:
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        n = futures.pop(future)
                        item = pending_items[n]
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            futures[future] = n  # still to do
                            raise
                        except Exception as exc:
                            self._count(attempts, item, exc)
                            futures[pool.submit(_run_in_process, task, item)] = n
                            continue
                        yield item, result
                pending_items = []
            except BrokenProcessPool as exc:
                # A worker died: the pool is unusable. Rerun what is left in a new one.
                retry = [pending_items[n] for n in futures.values()]
                for item in retry:
                    self._count(attempts, item, exc)
                pending_items = retry
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    def _count(self, attempts: dict[int, int], item: Any, exc: BaseException) -> None:
        key = _key(item)
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] > self.retries:
            raise _give_up(item, attempts[key], exc) from exc


# ----- Ray ------------------------------------------------------------------------------
class _RayWorker:
    """The body of a Ray actor: builds the state once and runs tasks with it."""

    def __init__(self, setup: Callable[[], Any]) -> None:
        self.state = setup()

    def run(self, task: Callable[[Any, Any], Any], item: Any) -> Any:
        return task(self.state, item)


@attrs.define
class RayExecutor:
    """``workers`` Ray actors (default: one per CPU Ray offers), each holding a state.

    A task that raises is resubmitted; an actor that dies is restarted by Ray (up to
    ``retries`` times) and its task resubmitted. Results are pulled one at a time as they
    finish, so the driver holds at most one result per worker.
    """

    workers: int | None = None
    retries: int = 2
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_worker: float = 1.0
    name: str = "ray"

    def _ray(self) -> Any:
        from pasta_core.errors import require

        ray = require("ray", "ray")
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=self.num_cpus, include_dashboard=False,
                     ignore_reinit_error=True, log_to_driver=False)
        return ray

    def map(self, setup: Callable[[], S], task: Callable[[S, T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        ray = self._ray()
        queue = list(items)
        if not queue:
            return
        workers = self.workers or max(1, int(ray.available_resources().get("CPU", 1) // self.cpus_per_worker))
        actor_class = ray.remote(num_cpus=self.cpus_per_worker, max_restarts=self.retries)(_RayWorker)
        actors = [actor_class.remote(setup) for _ in range(min(workers, len(queue)))]
        running: dict[Any, tuple[Any, T]] = {}
        attempts: dict[int, int] = {}
        try:
            for actor in actors:
                if queue:
                    item = queue.pop(0)
                    running[actor.run.remote(task, item)] = (actor, item)
            while running:
                [ref], _ = ray.wait(list(running), num_returns=1)
                actor, item = running.pop(ref)
                try:
                    result = ray.get(ref)
                except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as exc:
                    key = _key(item)
                    attempts[key] = attempts.get(key, 0) + 1
                    if attempts[key] > self.retries:
                        raise _give_up(item, attempts[key], exc) from exc
                    running[actor.run.remote(task, item)] = (actor, item)
                    continue
                if queue:
                    following = queue.pop(0)
                    running[actor.run.remote(task, following)] = (actor, following)
                yield item, result
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)


def _key(item: Any) -> int:
    try:
        return hash(item)
    except TypeError:
        return id(item)


# ----- choosing one ---------------------------------------------------------------------
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


# ----- the simulator on an executor -----------------------------------------------------
@attrs.frozen
class SimulatorSetup:
    """Builds a worker's :class:`~pasta_core.simulate.Simulator` (picklable)."""

    spec: Any
    folder: str
    batch_size: int = 50

    def __call__(self) -> Any:
        from pasta_core.simulate import Simulator

        simulator = Simulator(self.spec, batch_size=self.batch_size)
        simulator.folder = Path(self.folder)
        return simulator


def shard_task(simulator: Any, shard: int) -> tuple[int, bytes]:
    """Compute shard ``shard`` on a worker: (trajectory count, the Parquet file's bytes).

    The file is encoded (and compressed) on the worker; the caller only writes the bytes,
    so workers need no shared file system (unless images are saved as files)."""
    from pasta_core.simulate import encode_shard

    spec = simulator.spec
    start = shard * spec.shard_size
    indices = range(start, min(spec.count, start + spec.shard_size))
    trajectories, embeddings = simulator.trajectories(indices)
    rows = [row for t in embeddings for row in t] if embeddings is not None else None
    return len(indices), encode_shard(trajectories, rows)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def simulate_on(executor: Executor, spec: Any, folder: str | os.PathLike[str], batch_size: int = 50,
                progress: bool = True, user_model: Any = None,
                on_shard: Callable[[int], None] | None = None) -> Any:
    """Write every unfinished shard of ``spec`` to ``folder`` with ``executor``; shards are
    written as they finish, so a killed run keeps them and a rerun skips them."""
    from tqdm.auto import tqdm

    from pasta_core.simulate import SimulationResult, check_manifest
    from pasta_core.store import TrajectoryWriter

    folder = Path(folder)
    check_manifest(folder, spec.to_json())
    started = time.perf_counter()
    finished = set(TrajectoryWriter.finished_shards(folder))
    todo = [s for s in range(spec.num_shards) if s not in finished]
    done = spec.count - sum(min(spec.shard_size, spec.count - s * spec.shard_size) for s in todo)
    setup: Callable[[], Any] = SimulatorSetup(spec, str(folder), batch_size)
    if user_model is not None:
        if not isinstance(executor, InProcessExecutor):
            raise InvalidValueError(f"the {executor.name} executor builds the user model from the spec; "
                                    "pass user_model=None")
        setup = _LocalSetup(spec, folder, batch_size, user_model)
    computed = 0
    with tqdm(total=spec.count, initial=done, disable=not progress, desc=f"simulating ({executor.name})",
              unit="traj") as bar:
        for shard, (count, data) in executor.map(setup, shard_task, todo):
            write_bytes_atomically(folder / TrajectoryWriter.shard_name(shard), data)
            computed += count
            bar.update(count)
            if on_shard is not None:
                on_shard(shard)
    shards = tuple(folder / TrajectoryWriter.shard_name(s) for s in range(spec.num_shards))
    return SimulationResult(folder, shards, spec.count, computed, time.perf_counter() - started)


@attrs.frozen
class _LocalSetup:
    spec: Any
    folder: Path
    batch_size: int
    user_model: Any

    def __call__(self) -> Any:
        from pasta_core.simulate import Simulator

        simulator = Simulator(self.spec, user_model=self.user_model, batch_size=self.batch_size)
        simulator.folder = self.folder
        return simulator


# ----- batch rendering on an executor ---------------------------------------------------
@attrs.frozen
class T2ISetup:
    """Builds a worker's T2I model from its registered name and options (picklable)."""

    name: str
    options: dict[str, Any] = attrs.field(factory=dict)

    def __call__(self) -> Any:
        from pasta_core.plugins import get_plugins

        return get_plugins().create("t2i", self.name, **self.options)


def _render_chunk(t2i: Any, chunk: tuple[int, tuple[str, ...], tuple[int, ...]]) -> list[Any]:
    return list(t2i.render(list(chunk[1]), list(chunk[2])))


def render_many(t2i: str, prompts: Sequence[str], seeds: Sequence[int], executor: Executor | str | None = None,
                options: dict[str, Any] | None = None, chunk_size: int = 64) -> list[Any]:
    """Render ``prompts`` (one image per prompt and seed) in chunks on ``executor``'s
    workers, each holding its own copy of T2I model ``t2i``; images in input order."""
    if len(prompts) != len(seeds):
        raise InvalidValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    chunks = [(start, tuple(prompts[start : start + chunk_size]), tuple(int(s) for s in seeds[start : start + chunk_size]))
              for start in range(0, len(prompts), chunk_size)]
    images: list[Any] = [None] * len(prompts)
    for chunk, rendered in get_executor(executor).map(T2ISetup(t2i, dict(options or {})), _render_chunk, chunks):
        images[chunk[0] : chunk[0] + len(rendered)] = rendered
    return images
