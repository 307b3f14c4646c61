"""Re-seeding a starved user type during EM (a split move, after Ueda et al.'s SMEM).

Mini-batch EM can settle where one learned type covers two real ones while another type
starves: its prior sinks and it only nibbles at a neighbour's sessions. Every
``split_every`` steps of the first ``split_until`` share of training, a type whose prior is
below ``split_below / K`` is re-seeded as a perturbed copy of the type with the largest
prior. The two copies share that prior mass; the next E steps send each of the big type's
sessions to the copy that explains it better, and two real types pull the copies apart.
"""

from __future__ import annotations

from typing import Any

import torch


def starved_and_crowded(prior: torch.Tensor, split_below: float) -> tuple[int, int] | None:
    """(starved type, crowded type) when the smallest prior is below ``split_below / K``."""
    k = prior.numel()
    small, big = int(prior.argmin()), int(prior.argmax())
    if small == big or float(prior[small]) >= split_below / k:
        return None
    return small, big


@torch.no_grad()
def split_type(trainer: Any, small: int, big: int, noise: float, seed: int) -> None:
    """Make type ``small`` a copy of type ``big`` (per-type head rows plus Gaussian noise of
    ``noise`` x their spread, optimizer moments copied), halve the prior mass between
    them and refresh the target network. Deterministic in ``seed`` (same on every rank)."""
    model, d = trainer.model, trainer.model.config.dim
    generator = torch.Generator().manual_seed(seed)
    rows_small, rows_big = slice(small * d, (small + 1) * d), slice(big * d, (big + 1) * d)
    for tower in (model.text, model.image):
        for param in (tower.heads.weight, tower.heads.bias):
            source = param[rows_big]
            jitter = torch.randn(source.shape, generator=generator).to(source) * noise * source.std()
            param[rows_small] = source + (jitter if param is tower.heads.weight else 0)
            state = trainer.optimizer.state.get(param, {})
            for name in ("exp_avg", "exp_avg_sq"):
                if name in state:
                    state[name][rows_small] = state[name][rows_big]
    mass = (trainer.prior[small] + trainer.prior[big]) / 2
    trainer.prior[small] = mass
    trainer.prior[big] = mass
    trainer.target.load_state_dict(model.state_dict())


def maybe_split(trainer: Any) -> tuple[int, int] | None:
    """The split move of a training step (see the module docstring); returns the
    (re-seeded, copied) types when it happened."""
    cfg = trainer.config
    step = trainer.step_count
    if cfg.split_every <= 0 or step % cfg.split_every or step > cfg.split_until * cfg.steps:
        return None
    pair = starved_and_crowded(trainer.prior, cfg.split_below)
    if pair is not None:
        split_type(trainer, *pair, noise=cfg.split_noise, seed=cfg.seed * 1_000_003 + step)
    return pair
