"""The IQL trainer: fits a :class:`~pasta_core.protocols.TrainableValueModel` offline.

Per step, on a batch of (h, p, r, h') pairs (every prompt of the taken slates):

    L_V = mean L2_tau( Q_target(h, p) - V(h) )            (expectile tau, default 0.7)
    L_Q = mean ( r + gamma V_target(h') - Q(h, p) )^2      (every token prefix if token_level)

and one optimizer step on L_Q + L_V (``torch.optim.Adafactor`` by default) with the
gradient norm clipped (``torch.nn.utils.clip_grad_norm_``). The target network is a copy
of the online one, refreshed every ``target_update`` steps (or moved towards it by
``polyak`` each step). The paper shares one network for Q and V, so the bootstrap V(h')
also comes from the target copy: a stable regression target between refreshes.

Data-parallel under ``torchrun`` (``parallel``: a ``pasta_distributed`` group): every
process draws the same global batch and takes its slice of the pairs; each process's
losses are weighted by its share of the pairs and the gradients summed, so N processes
take the one-process step (exactly for pair-level IQL; token-level TD losses are averaged
per process's tokens). Only rank 0 writes states, checkpoints and metrics.

A non-finite loss, value, gradient norm or weight stops the run with a
:class:`~pasta_core.training.TrainingDivergedError` naming the step: every step's metrics are
checked, and every tensor before it is saved, so the checkpoint left on disk is the last
finite one. The trainer writes no metrics file itself: a record per logged step goes to the
``metrics_log`` its caller passes (a :class:`MetricsLog`, such as ``pasta_tracking``'s
``metrics.jsonl`` writer), which a resumed run cuts back to the step it resumes from.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from pasta_core.errors import InvalidValueError
from pasta_core.iql.losses import td_loss, td_target, value_loss
from pasta_core.iql.state import latest_state, load_state, save_state
from pasta_core.iql.transitions import Batch, Transitions, sample_batch
from pasta_core.training import (
    TrainingDivergedError,
    describe,
    kept_message,
    nonfinite_metrics,
    nonfinite_tensors,
)

OPTIMIZERS = ("adafactor", "adamw", "adam", "sgd")
#: Settings that may change when a run is resumed (they do not change the result).
_RESUMABLE = {"steps", "save_every", "log_every"}
#: Batches are drawn this many steps ahead, in one loop: drawn one per step, between the
#: networks' passes, the same numpy calls ran much slower (cold caches; figures in
#: docs/benchmarks.md). A batch depends only on (seed, step), so this changes no result.
SAMPLE_AHEAD = 64


class MetricsLog(Protocol):
    """Where :func:`train_iql` writes a record of every logged step (``--metrics jsonl``:
    ``pasta_tracking.jsonl.JsonlMetrics``); with none, the trainer writes no metrics."""

    def start(self, step: int) -> None:
        """The run goes on after ``step`` (0: from scratch): forget the records of later
        steps (a resumed run logs them again)."""

    def write(self, record: Mapping[str, float]) -> None:
        """Keep one logged step's record: ``step``, the step's metrics and ``steps_per_s``."""


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value <= 0:
        raise InvalidValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class IQLConfig:
    """IQL settings; defaults are the paper's (appendix E.4) unless noted.

    ``gamma`` (not stated in the paper) defaults to 1: episodes are short and finite and the
    final-turn reward is the goal. ``polyak`` > 0 replaces the hard refresh by
    target <- (1 - polyak) target + polyak online after every step.
    """

    steps: int = attrs.field(default=10_000, validator=_positive)
    batch_size: int = attrs.field(default=128, validator=_positive)
    lr: float = attrs.field(default=1e-5, converter=float, validator=_positive)
    weight_decay: float = attrs.field(default=1e-2, converter=float)
    grad_clip: float = attrs.field(default=1.0, converter=float)
    optimizer: str = attrs.field(default="adafactor", validator=attrs.validators.in_(OPTIMIZERS))
    expectile: float = attrs.field(default=0.7, converter=float)
    gamma: float = attrs.field(default=1.0, converter=float)
    target_update: int = attrs.field(default=256, validator=_positive)
    polyak: float = attrs.field(default=0.0, converter=float)
    token_level: bool = False
    seed: int = 0
    save_every: int = attrs.field(default=500, validator=_positive)
    log_every: int = attrs.field(default=10, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if not 0 < self.expectile < 1:
            raise InvalidValueError(f"expectile must be in (0, 1), got {self.expectile}")
        if not 0 <= self.gamma <= 1:
            raise InvalidValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0 <= self.polyak <= 1:
            raise InvalidValueError(f"polyak must be in [0, 1], got {self.polyak}")

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def make_optimizer(params: Any, config: IQLConfig) -> Any:
    """The optimizer named in ``config`` (torch's Adafactor by default, as in the paper).

    ``foreach`` (one multi-tensor kernel per update instead of one per parameter) for
    Adam(W) everywhere; for Adafactor only when the parameters are on an accelerator,
    where it saves kernel launches (on CPU it gained nothing, see docs/benchmarks.md, and
    the multi-tensor path holds a gradient-sized copy more)."""
    import torch

    params = list(params)
    if config.optimizer == "adafactor":
        accelerated = any(p.device.type != "cpu" for p in params)
        return torch.optim.Adafactor(params, lr=config.lr, weight_decay=config.weight_decay, foreach=accelerated)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)


@attrs.define
class IQLTrainer:
    """One IQL run of ``model`` on ``data`` (see :func:`train_iql` for the usual entry)."""

    model: Any
    data: Transitions
    config: IQLConfig
    prepared: Any = None
    target: Any = None
    optimizer: Any = None
    step: int = 0
    #: How the model was built (plugin options); a resumed run must build it the same way.
    model_options: dict[str, Any] = attrs.field(factory=dict)
    #: The data-parallel group (``pasta_distributed.data_parallel()``); None: one process.
    parallel: Any = None
    #: Where states are saved (set by :meth:`save` / :meth:`resume`; named in errors).
    out: Path | None = attrs.field(default=None, init=False)
    #: The step of the last state this trainer saved or resumed from (None: none yet).
    saved_step: int | None = attrs.field(default=None, init=False)
    _ahead: dict[int, Batch] = attrs.field(factory=dict, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.config.token_level and not self.model.supports_token_level:
            raise InvalidValueError(
                f"value model {self.model.plugin!r} has no tokens; token-level IQL needs causal-lm"
            )
        self.model.module.train()
        if self.parallel is not None:
            self.parallel.broadcast_parameters([self.model.module])
        self.target = copy.deepcopy(self.model.module).eval()
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.optimizer = make_optimizer(self.model.module.parameters(), self.config)
        if self.prepared is None:
            self.prepared = self.model.prepare(self.data.histories, self.data.candidates)

    @property
    def is_main(self) -> bool:
        """Whether this process writes the states, checkpoints and metrics (rank 0)."""
        return self.parallel is None or self.parallel.is_main

    def losses(self, batch: Batch) -> dict[str, Any]:
        """L_Q, L_V and a few diagnostics for ``batch`` (tensors; L_Q/L_V carry gradients)."""
        import torch

        model, cfg = self.model, self.config
        online = model.module
        hi = torch.as_tensor(batch.history)
        ci = torch.as_tensor(batch.candidate)
        out = model.pair_outputs(online, self.prepared, hi, ci, token_level=cfg.token_level)
        v = out.v if out.v is not None else model.history_values(online, self.prepared, hi)
        with torch.no_grad():
            q_target = model.pair_outputs(self.target, self.prepared, hi, ci).q.float()
            next_value = self.next_values(batch.next_history, q_target)
            reward = torch.as_tensor(batch.reward, dtype=torch.float32, device=q_target.device)
            terminal = torch.as_tensor(batch.next_history < 0, device=q_target.device)
            target = td_target(reward, next_value, terminal, cfg.gamma)
        token_q = out.token_q.float() if out.token_q is not None else None
        loss_q = td_loss(out.q.float(), target, token_q, out.token_mask)
        loss_v = value_loss(q_target, v.float(), cfg.expectile)
        return {"loss_q": loss_q, "loss_v": loss_v, "q": out.q.detach(), "v": v.detach(), "target": target}

    def next_values(self, next_history: Any, like: Any) -> Any:
        """V_target(h') per pair, computed once per distinct h' (0 after the final turn)."""
        import numpy as np
        import torch

        values = torch.zeros_like(like)
        live = next_history >= 0
        if live.any():
            unique, inverse = np.unique(next_history[live], return_inverse=True)
            v = self.model.history_values(self.target, self.prepared, torch.as_tensor(unique)).float()
            values[torch.as_tensor(np.flatnonzero(live), device=values.device)] = v[torch.as_tensor(inverse, device=v.device)]
        return values

    def train_step(self) -> dict[str, float]:
        """One optimizer step; returns the step's metrics."""
        import torch

        cfg = self.config
        batch = self._batch(self.step)
        dp = self.parallel if self.parallel is not None and self.parallel.active else None
        share = 1.0
        if dp is not None:
            mine = dp.shard(len(batch.history))
            share = (mine.stop - mine.start) / len(batch.history)
            batch = Batch(**{k: v[mine] for k, v in attrs.asdict(batch, recurse=False).items()})
        parts = self.losses(batch)
        loss = parts["loss_q"] + parts["loss_v"]
        self.optimizer.zero_grad(set_to_none=True)
        (loss * share if dp is not None else loss).backward()
        if dp is not None:
            dp.sum_gradients(self.model.module.parameters())
            parts["loss_q"] = dp.sum(parts["loss_q"].detach() * share)
            parts["loss_v"] = dp.sum(parts["loss_v"].detach() * share)
        params = list(self.model.module.parameters())
        if cfg.grad_clip > 0:  # the norm before clipping, read with the other metrics in one sync
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None], foreach=True)
        self.optimizer.step()
        self.step += 1
        self.update_target()
        names = ("loss_q", "loss_v", "q_mean", "v_mean", "target_mean", "grad_norm")
        values = torch.stack([parts["loss_q"].detach().float(), parts["loss_v"].detach().float(),
                              parts["q"].float().mean(), parts["v"].float().mean(), parts["target"].float().mean(),
                              norm.float().to(parts["q"].device)])
        return dict(zip(names, values.tolist()))

    def _batch(self, step: int) -> Batch:
        """The batch of ``step`` (:func:`sample_batch`), drawn with the next ones."""
        batch = self._ahead.pop(step, None)
        if batch is None:
            cfg = self.config
            self._ahead = {s: sample_batch(self.data, cfg.batch_size, cfg.seed, s) for s in range(step, step + SAMPLE_AHEAD)}
            batch = self._ahead.pop(step)
        return batch

    def update_target(self) -> None:
        """Polyak-average every step, or copy the online network every ``target_update``."""
        import torch

        cfg = self.config
        if cfg.polyak > 0:
            with torch.no_grad():
                for t, o in zip(self.target.parameters(), self.model.module.parameters()):
                    t.lerp_(o, cfg.polyak)
        elif self.step % cfg.target_update == 0:
            self.target.load_state_dict(self.model.module.state_dict())

    def info(self) -> dict[str, Any]:
        return {"iql": self.config.to_dict(), "data": self.data.fingerprint(), "plugin": self.model.plugin,
                "model_options": self.model_options}

    def diverged(self, what: str) -> TrainingDivergedError:
        """The error of a run whose ``what`` went non-finite at the current step."""
        return TrainingDivergedError("IQL", self.step, what, kept_message(self.out, self.saved_step))

    def check_metrics(self, metrics: dict[str, float]) -> None:
        """Raise :class:`TrainingDivergedError` if a step's metric is NaN or infinite."""
        bad = nonfinite_metrics(metrics)
        if bad:
            raise self.diverged(describe("the metrics", bad))

    def check_weights(self) -> None:
        """Raise :class:`TrainingDivergedError` if a weight of the online or target network
        or an optimizer moment is NaN or infinite (every process checks: they hold the same
        numbers)."""
        named = [(f"online.{k}", v) for k, v in self.model.module.state_dict().items()]
        named += [(f"target.{k}", v) for k, v in self.target.state_dict().items()]
        for pid, state in self.optimizer.state_dict()["state"].items():
            named += [(f"optimizer.{pid}.{k}", v) for k, v in state.items()]
        bad = nonfinite_tensors(named)
        if bad:
            raise self.diverged(describe("the tensors", bad))

    def save(self, out: Path) -> None:
        """Trainer state (for resuming) and the public checkpoint at the current step
        (rank 0 only under torchrun), after checking that every tensor is finite (if one
        is not, :class:`TrainingDivergedError` and nothing is written)."""
        self.out = Path(out)
        self.check_weights()
        if not self.is_main:
            return
        save_state(out, self.step, self.model.module, self.target, self.optimizer, self.info())
        self.model.save(out, extra={"training": {**self.info(), "step": self.step}})
        self.saved_step = self.step

    def resume(self, out: Path) -> bool:
        """Continue from the newest state under ``out``; False when there is none."""
        saved = latest_state(out)
        if saved is None:
            return False
        _check_compatible(saved, self.info(), out)
        self.step = load_state(saved, self.model.module, self.target, self.optimizer)
        self.out, self.saved_step = Path(out), self.step
        return True


def _check_compatible(saved: dict[str, Any], current: dict[str, Any], out: Path) -> None:
    old = {k: v for k, v in saved.get("iql", {}).items() if k not in _RESUMABLE}
    new = {k: v for k, v in current["iql"].items() if k not in _RESUMABLE}
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if saved.get("data") != current["data"]:
        changed.append("data (different trajectories or rewards)")
    if saved.get("plugin") != current["plugin"] or saved.get("model_options") != current["model_options"]:
        changed.append("value model or its options")
    if changed:
        raise InvalidValueError(
            f"{out} holds an unfinished run with other settings ({', '.join(changed)}); "
            "use another --out, or --no-resume to start over there"
        )


def train_iql(
    model: Any,
    data: Transitions,
    config: IQLConfig = IQLConfig(),
    out: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    model_options: dict[str, Any] | None = None,
    parallel: Any = None,
    metrics_log: MetricsLog | None = None,
) -> IQLTrainer:
    """Train ``model`` with IQL on ``data``; with ``out``, save states every
    ``save_every`` steps and the final checkpoint, and (``resume``) continue an interrupted
    run found there. Every ``log_every``-th step's metrics go to ``metrics_log`` (none by
    default; on rank 0 only under torchrun). ``on_step(step, metrics)`` is
    called after every step; ``model_options`` (how the model was built) is recorded and
    checked on resume; ``parallel`` is the data-parallel group (default: one process). A
    non-finite loss or weight raises :class:`TrainingDivergedError` (the states on disk
    are the last finite ones)."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    trainer = IQLTrainer(model, data, config, model_options=dict(model_options or {}),
                         parallel=parallel)
    folder = Path(out) if out is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        trainer.out = folder
        if resume:
            trainer.resume(folder)
    main = trainer.is_main
    records = metrics_log if main else None
    if records is not None:
        records.start(trainer.step)  # the steps after a resumed state are logged again
    bar = tqdm(total=config.steps, initial=trainer.step, desc="IQL", unit="step", disable=not (progress and main))
    started, first = time.perf_counter(), trainer.step
    try:
        while trainer.step < config.steps:
            metrics = trainer.train_step()
            trainer.check_metrics(metrics)
            bar.update(1)
            if on_step is not None:
                on_step(trainer.step, metrics)
            if trainer.step % config.log_every == 0 or trainer.step == config.steps:
                rate = (trainer.step - first) / max(time.perf_counter() - started, 1e-9)
                bar.set_postfix(loss_q=f"{metrics['loss_q']:.4f}", loss_v=f"{metrics['loss_v']:.4f}")
                if records is not None:
                    records.write({"step": trainer.step, **metrics, "steps_per_s": rate})
            if folder is not None and (trainer.step % config.save_every == 0 or trainer.step == config.steps):
                trainer.save(folder)
        if folder is None:
            trainer.check_weights()  # with a folder, the last save has checked them
    finally:
        bar.close()
    if folder is not None and trainer.step == first and not (folder / "config.json").exists():
        trainer.save(folder)
    return trainer
