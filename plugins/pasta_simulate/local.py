"""The executors of this machine: in this process, or a pool of spawned processes.

Every executor has one method, :meth:`Executor.map`: ``setup`` builds a *worker state*
once per worker, ``task(state, item)`` does one piece of work with it, and results come
back **in completion order** as ``(item, result)`` pairs, so a caller can write each one
as soon as it is ready. A task that raises (or whose worker dies) is run again, up to
``retries`` more times, before the run fails with :class:`ExecutorError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

import attrs

from pasta_core.errors import PastaError
from pasta_simulate.pool import spawn_pool

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


class ExecutorError(PastaError):
    """A task still failed after its retries (the message names the task and the cause)."""


class Executor(Protocol):
    """Runs ``task(state, item)`` for every item on workers that each built ``state = setup()``."""

    name: str

    def map(self, setup: Callable[[], S], task: Callable[[S, T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """(item, result) pairs in completion order; failed tasks are retried."""
        ...


def give_up(item: Any, attempts: int, error: BaseException) -> ExecutorError:
    """The error of a task that failed ``attempts`` times."""
    return ExecutorError(
        f"task {item!r} failed {attempts} time(s); last error: {type(error).__name__}: {error}. "
        "Finished work is kept: fix the cause and rerun to continue."
    )


def task_key(item: Any) -> int:
    """What attempts are counted by: the item's hash, or its identity if unhashable."""
    try:
        return hash(item)
    except TypeError:
        return id(item)


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
                        raise give_up(item, attempt + 1, exc) from exc
            yield item, result


_state: Any = None


def _init_process(setup: Callable[[], Any]) -> None:
    global _state
    try:
        _state = setup()
    except PastaError as exc:  # raised by its tasks, so the caller gets the line, not a broken pool
        _state = PastaError(str(exc))


def _run_in_process(task: Callable[[Any, Any], Any], item: Any) -> Any:
    if isinstance(_state, PastaError):
        raise _state
    return task(_state, item)


@attrs.define
class ProcessExecutor:
    """A local pool of ``workers`` spawned processes, each with its own state (``setup``
    and ``task`` must be picklable: module-level functions or attrs instances of
    module-level classes). Its workers end when this process dies (:func:`spawn_pool`)."""

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
        key = task_key(item)
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] > self.retries:
            raise give_up(item, attempts[key], exc) from exc
