"""Local worker pools whose workers share the cores and end with their parent."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any


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
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
