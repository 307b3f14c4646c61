"""Data-parallel training with torch.distributed (launched by ``torchrun``).

A library the trainers share (the EM trainer of ``pasta_clip_em``, and ``pasta value
train``, which hands the group to the core's IQL trainer as its ``parallel``); it
registers nothing. The trainers draw the same *global* batch on every process, each
process takes its slice, and the losses are normalised by the global count, so that
summing the gradients over processes gives exactly the gradient of the single-process
step on the whole batch. Every process then takes the same optimizer step and the weights
stay identical: the result equals a one-process run of the same global batch up to
floating-point rounding. Only rank 0 writes checkpoints, metrics and progress bars.

    torchrun --standalone --nproc-per-node 2 -m pasta_cli user-model train ...  # CPU: gloo
    torchrun --standalone --nproc-per-node 4 -m pasta_cli value train ...       # GPUs: nccl

Outside ``torchrun`` (no ``WORLD_SIZE`` in the environment) :func:`data_parallel` gives a
single-process object whose operations do nothing.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import attrs
import numpy as np


@attrs.define
class DataParallel:
    """This process's place in a data-parallel group, and the collective operations."""

    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the process that writes files (rank 0)."""
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous slice of ``n`` items (sizes differ by at most one)."""
        bounds = np.linspace(0, n, self.world_size + 1).round().astype(int)
        return slice(int(bounds[self.rank]), int(bounds[self.rank + 1]))

    def sum(self, value: Any) -> Any:
        """Sum of a tensor (or a Python number) over all ranks."""
        if not self.active:
            return value
        import torch
        import torch.distributed as dist

        tensor = value if isinstance(value, torch.Tensor) else torch.tensor(float(value), dtype=torch.float64)
        out = tensor.detach().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out if isinstance(value, torch.Tensor) else float(out)

    def sum_gradients(self, parameters: Iterable[Any]) -> None:
        """Add up the gradients of ``parameters`` over all ranks, in one flat buffer.
        A parameter without a gradient on this rank counts as zero there."""
        if not self.active:
            return
        import torch
        import torch.distributed as dist

        params = [p for p in parameters if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p in params:
            p.grad.copy_(flat[offset : offset + p.numel()].view_as(p.grad))
            offset += p.numel()

    def broadcast_parameters(self, modules: Sequence[Any]) -> None:
        """Make every rank start from rank 0's weights (and buffers)."""
        if not self.active:
            return
        import torch.distributed as dist

        for module in modules:
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()


_group: DataParallel | None = None


def _leave_group() -> None:
    """Leave the process group together at exit. Letting the interpreter tear gloo's
    threads down while a peer still talks aborts the process ("terminate called without an
    active exception", SIGABRT), which turns a finished run into a failed one."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=60))
        else:
            dist.barrier()
    finally:
        dist.destroy_process_group()


def data_parallel(backend: str | None = None) -> DataParallel:
    """The process group of this run: started from ``torchrun``'s environment
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...) the first time, with ``gloo`` on CPU and
    ``nccl`` when CUDA is available unless ``backend`` says otherwise; a single-process
    group when the environment names no world."""
    global _group
    if _group is not None:
        return _group
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        _group = DataParallel()
        return _group
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = backend or os.environ.get("PASTA_DIST_BACKEND") or (
            "nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend=backend)
        atexit.register(_leave_group)
    _group = DataParallel(rank=dist.get_rank(), world_size=dist.get_world_size())
    if torch.cuda.is_available() and "LOCAL_RANK" in os.environ:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    return _group

