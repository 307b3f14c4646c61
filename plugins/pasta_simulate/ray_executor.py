"""The ``ray`` executor: Ray actors, each holding a worker state.

Needs ``pip install 'pasta-t2i[ray]'``. Connects to ``address`` (``auto`` for a running
cluster) or starts a local Ray; an already initialised Ray is used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import attrs

from pasta_simulate.local import give_up, task_key

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


class RayWorker:
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

    def start(self) -> Any:
        """The ``ray`` module, initialised (a local Ray, or the cluster at ``address``)."""
        from pasta_core.errors import require

        ray = require("ray", "ray")
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=self.num_cpus, include_dashboard=False,
                     ignore_reinit_error=True, log_to_driver=False)
        return ray

    def map(self, setup: Callable[[], S], task: Callable[[S, T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        ray = self.start()
        queue = list(items)
        if not queue:
            return
        workers = self.workers or max(1, int(ray.available_resources().get("CPU", 1) // self.cpus_per_worker))
        actor_class = ray.remote(num_cpus=self.cpus_per_worker, max_restarts=self.retries)(RayWorker)
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
                    key = task_key(item)
                    attempts[key] = attempts.get(key, 0) + 1
                    if attempts[key] > self.retries:
                        raise give_up(item, attempts[key], exc) from exc
                    running[actor.run.remote(task, item)] = (actor, item)
                    continue
                if queue:
                    following = queue.pop(0)
                    running[actor.run.remote(task, following)] = (actor, following)
                yield item, result
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)
