"""The ``ray`` executor: Ray actors, each holding a worker state.

Needs ``pip install 'pasta-t2i[ray]'``. Connects to ``address`` (``auto`` for a running
cluster) or starts a local Ray; an already initialised Ray is used as it is.

With ``gpus_per_worker`` each actor reserves that share of a GPU (``1``: a GPU of its own;
``0.5``: two actors share one). Ray then shows the actor only its GPUs
(``CUDA_VISIBLE_DEVICES``), so a T2I model built there with ``device=auto`` loads its
pipeline onto that GPU: one pipeline per actor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import attrs

from pasta_core.errors import InvalidValueError
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
    gpus_per_worker: float = 0.0
    num_gpus: int | None = None
    name: str = "ray"

    def start(self) -> Any:
        """The ``ray`` module, initialised (a local Ray, or the cluster at ``address``)."""
        from pasta_core.errors import require

        ray = require("ray", "ray")
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=self.num_cpus, num_gpus=self.num_gpus,
                     include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
        return ray

    def actor_count(self, ray: Any, items: int) -> int:
        """How many actors to start: ``workers``, else as many as the free CPUs allow (with
        ``gpus_per_worker``: as many as the cluster's GPUs and CPUs hold); never more than
        ``items``. GPU workers the cluster cannot hold at once are refused (a task on an
        actor that never starts would wait for ever)."""
        if not self.gpus_per_worker:
            slots = int(ray.available_resources().get("CPU", 1) // self.cpus_per_worker)
            return max(1, min(self.workers or slots, items))
        total = ray.cluster_resources()
        gpus = total.get("GPU", 0)
        slots = min(int(gpus // self.gpus_per_worker), int(total.get("CPU", 1) // self.cpus_per_worker))
        wanted = self.workers or max(1, slots)
        if not gpus:
            raise InvalidValueError("--worker-gpus asks for GPUs, but the Ray cluster has none; run it where Ray "
                                    "sees GPUs (PASTA_RAY_ADDRESS=auto joins a running cluster)")
        if wanted * self.gpus_per_worker > gpus:
            raise InvalidValueError(
                f"{wanted} Ray workers with {self.gpus_per_worker:g} GPU each need "
                f"{wanted * self.gpus_per_worker:g} GPUs, but the Ray cluster has {gpus:g}; "
                f"ask for fewer workers or a smaller --worker-gpus"
            )
        return max(1, min(wanted, items))

    def map(self, setup: Callable[[], S], task: Callable[[S, T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        ray = self.start()
        queue = list(items)
        if not queue:
            return
        actor_class = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker,
                                 max_restarts=self.retries)(RayWorker)
        actors = [actor_class.remote(setup) for _ in range(self.actor_count(ray, len(queue)))]
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
