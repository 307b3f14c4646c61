"""What the trainers (IQL, EM) share: every step's metrics and, before each checkpoint,
every tensor are checked; the first non-finite one stops the run with a
:class:`TrainingDivergedError` before anything is written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pasta_core.errors import PastaError


class TrainingDivergedError(PastaError):
    """A loss, gradient or weight became NaN or infinite; nothing non-finite was saved."""

    def __init__(self, trainer: str, step: int, what: str, kept: str) -> None:
        self.trainer, self.step, self.what = trainer, step, what
        super().__init__(
            f"{trainer} training diverged at step {step}: {what}. {kept} "
            "Try a lower learning rate (--lr) or gradient clip (--grad-clip), or check the data."
        )


def nonfinite_metrics(metrics: Mapping[str, Any]) -> list[str]:
    """``name = value`` for every float metric that is NaN or infinite."""
    return [f"{k} = {v}" for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)]


def nonfinite_tensors(tensors: Iterable[tuple[str, Any]]) -> list[str]:
    """The names of the floating-point tensors that hold a NaN or an infinity (one device
    sync for all of them)."""
    import torch

    names, flags = [], []
    for name, tensor in tensors:
        if torch.is_tensor(tensor) and (tensor.is_floating_point() or tensor.is_complex()):
            names.append(name)
            flags.append(torch.isfinite(tensor).all())
    if not flags:
        return []
    device = flags[0].device
    finite = torch.stack([f.to(device) for f in flags]).tolist()
    return [name for name, ok in zip(names, finite) if not ok]


def describe(kind: str, items: list[str], limit: int = 3) -> str:
    """``"the loss = nan went non-finite"``-style text for an error message."""
    shown = ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
    return f"{kind} {shown} went non-finite"


def kept_message(out: str | os.PathLike[str] | None, saved_step: int | None) -> str:
    """What is on disk after a divergence: the last finite checkpoint, or nothing."""
    if out is None:
        return "Nothing was saved."
    if saved_step is None:
        return f"This run saved no checkpoint in {out} before it diverged."
    return f"The last finite checkpoint (step {saved_step}) is kept in {out}."
