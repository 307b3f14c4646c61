"""Adafactor with the update rule of ``torch.optim.Adafactor``, at about half its CPU cost.

Per parameter ``p`` with gradient ``g`` at step ``t`` (torch's defaults: ``beta2_decay``
-0.8, ``eps`` (machine epsilon, 1e-3), ``d`` 1):

    alpha  = max(eps2, RMS(p)) * min(lr, 1 / sqrt(t))
    p     *= 1 - lr * weight_decay
    matrix:  R <- lerp(R, mean(g^2, -1), t^beta2_decay);  C <- lerp(C, mean(g^2, -2), ...)
             V  = R C / max(mean(R), eps1)              (the factored second moment)
    vector:  V <- lerp(V, g^2, t^beta2_decay)
    u      = g / sqrt(max(V, eps1^2))
    p     -= alpha / max(1, RMS(u) / d) * u

torch's multi-tensor version cost about half a forward+backward of the embedded value model
on CPU (``pasta bench perf``): its RMS values come from ``linalg.vector_norm``, slow on CPU
(a strided reduction for the column means), V from a matrix product, and it regroups the
tensors in Python on every step. This one takes the sums of squares as BLAS dot products
and the row and column means from one g^2. For a matrix V is never formed: 1 / sqrt(max(V,
eps1^2)) is the outer product of the row and column vectors' inverse square roots, capped
at 1 / eps1, so the square roots are taken on vectors and the matrix sees one broadcast
product. g^2 and that product go into reused scratch memory (fresh matrices cost their
page faults). On the embedded value model's parameters a step takes 0.47-0.49x of torch's
time (interleaved with it, one thread). The state (``step``, ``row_var``, ``col_var``,
``variance``) has torch's names, shapes and dtypes, so a state saved by either optimizer
loads in the other; ``tests/value/test_value_adafactor.py`` checks the updates against
torch's.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from pasta_core.errors import InvalidValueError


def _mean_square(x: torch.Tensor) -> float:
    flat = x.reshape(-1)
    return torch.dot(flat, flat).item() / flat.numel()


class Adafactor(torch.optim.Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as ``torch.optim.Adafactor`` defines it (real
    tensors, ``maximize=False``); see the module docstring for the rule."""

    def __init__(self, params: Any, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0) -> None:
        if not lr >= 0:
            raise InvalidValueError(f"Adafactor lr must be at least 0, got {lr}")
        if not beta2_decay <= 0:
            raise InvalidValueError(f"Adafactor beta2_decay must be at most 0, got {beta2_decay}")
        if eps[0] is not None and not eps[0] >= 0 or not eps[1] >= 0:
            raise InvalidValueError(f"Adafactor eps values must be at least 0, got {eps}")
        if not d >= 1:
            raise InvalidValueError(f"Adafactor clipping threshold d must be at least 1, got {d}")
        if not weight_decay >= 0:
            raise InvalidValueError(f"Adafactor weight_decay must be at least 0, got {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d, "weight_decay": weight_decay}
        super().__init__(params, defaults)
        #: Reused room for g^2 and the update: twice the largest parameter, per dtype and device
        #: (torch's step allocates as much afresh for every parameter).
        self._scratch: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}
        self._views: dict[torch.Tensor, tuple[torch.Tensor, torch.Tensor]] = {}  # per parameter

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _state(self, p: torch.Tensor) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            if p.dim() > 1:
                state["row_var"] = p.new_zeros(p.shape[:-1] + (1,))
                state["col_var"] = p.new_zeros(p.shape[:-2] + (1, p.shape[-1]))
            else:
                state["variance"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def _scratch_pair(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two uninitialised tensors shaped like ``p``, views of the reused scratch (made
        once per parameter: slicing costs dispatches on every step)."""
        views = self._views.get(p)
        if views is not None:
            return views
        key, n = (p.dtype, p.device), p.numel()
        room = self._scratch.get(key)
        if room is None or room.numel() < 2 * n:
            room = self._scratch[key] = torch.empty(2 * n, dtype=p.dtype, device=p.device)
            self._views.clear()  # the others move to the larger room on their next update
        views = self._views[p] = (room[:n].view(p.shape), room[n : 2 * n].view(p.shape))
        return views

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        if p.grad.is_sparse or p.is_complex():
            raise InvalidValueError("Adafactor here supports dense real parameters only")
        g, state = p.grad, self._state(p)
        lr, (eps1, eps2) = group["lr"], group["eps"]
        eps1 = torch.finfo(p.dtype).eps if eps1 is None else eps1
        state["step"] += 1
        t = state["step"].item()
        weight = t ** group["beta2_decay"]
        alpha = max(eps2, math.sqrt(_mean_square(p))) * min(lr, 1 / math.sqrt(t))
        squared, variance = self._scratch_pair(p)
        torch.mul(g, g, out=squared)
        if p.dim() > 1:
            rows, cols = state["row_var"], state["col_var"]
            rows.lerp_(squared.mean(-1, keepdim=True), weight)
            cols.lerp_(squared.mean(-2, keepdim=True), weight)
            # V = R C / max(mean(R), eps1) is an outer product, so 1 / sqrt(max(V, eps1^2))
            # is one too, capped at 1 / eps1: rsqrt on the row and column vectors. The matrix
            # sees a product and a cap, not a product, a division, a clamp and a rsqrt.
            row_scale = rows.div(rows.mean(-2, keepdim=True).clamp_min_(eps1)).rsqrt_()
            cap = 1 / eps1 if eps1 > 0 else math.inf
            update = torch.mul(row_scale, cols.rsqrt(), out=variance).clamp_max_(cap).mul_(g)
        else:
            state["variance"].lerp_(squared, weight)
            update = torch.clamp_min(state["variance"], eps1 * eps1, out=variance).rsqrt_().mul_(g)
        scale = alpha / max(1.0, math.sqrt(_mean_square(update)) / group["d"])
        if group["weight_decay"] != 0:
            p.mul_(1 - lr * group["weight_decay"])
        p.add_(update, alpha=-scale)
