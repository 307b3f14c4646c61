"""Intervals of the planted bench: worlds, training seeds and sessions as variance sources.

Every figure is a *per-seed figure* (a function of means over units: evaluation
episodes, or held-out sessions, each one session with all its turns) averaged over the
training seeds of a world, then over the worlds of a set. Its 95% interval is a
hierarchical percentile bootstrap: worlds are resampled, then within each world the
training seeds and the units (the same resample of units for every agent and seed of the
world, so paired differences stay paired; a session's turns never separate). One world
alone gets the seeds-and-sessions interval; one seed alone the sessions interval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

RESAMPLES = 2000


@attrs.frozen
class Estimate:
    """A figure with its bootstrap draws (``draws``: one value per resample)."""

    value: float
    draws: np.ndarray = attrs.field(eq=False, repr=False)

    @property
    def ci95(self) -> list[float]:
        finite = self.draws[np.isfinite(self.draws)]
        if not len(finite):
            return [float("nan"), float("nan")]
        return [float(x) for x in np.percentile(finite, [2.5, 97.5])]

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "ci95": self.ci95}


Figure = Callable[[dict[str, Any]], Any]


def world_estimate(per_seed: dict[str, np.ndarray], shared: dict[str, np.ndarray], figure: Figure,
                   resamples: int = RESAMPLES, seed: int = 0) -> Estimate:
    """One world's figure: ``figure(means)`` per training seed, averaged over the seeds.

    ``per_seed[name]`` is (S, U): a value per training seed and unit; ``shared[name]`` is
    (U,): the same for every seed (the baselines, the Bayes-optimal reference). ``figure``
    maps a dict of unit means (arrays of any shape, broadcast) to the per-seed figure."""
    rng = np.random.default_rng(seed)
    arrays = list(per_seed.values()) + list(shared.values())
    units = len(arrays[0]) if not per_seed else next(iter(per_seed.values())).shape[1]
    seeds = next(iter(per_seed.values())).shape[0] if per_seed else 1
    point = {**{n: v.mean(axis=-1) for n, v in per_seed.items()}, **{n: v.mean() for n, v in shared.items()}}
    value = float(np.nanmean(figure(point)))
    u = rng.integers(units, size=(resamples, units))
    s = rng.integers(seeds, size=(resamples, seeds))
    means: dict[str, Any] = {}
    for name, v in per_seed.items():
        by_seed = v[:, u].mean(axis=-1).T  # (B, S): every seed on the same unit resample
        means[name] = np.take_along_axis(by_seed, s, axis=1)
    for name, v in shared.items():
        means[name] = v[u].mean(axis=-1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = np.nanmean(np.broadcast_to(figure(means), (resamples, seeds)), axis=1)
    return Estimate(value, draws)


def set_estimate(worlds: list[Estimate], seed: int = 0) -> Estimate:
    """The mean over worlds, resampling the worlds too (each world's own draws carry its
    seed and session variance)."""
    if len(worlds) == 1:
        return worlds[0]
    values = np.array([w.value for w in worlds])
    draws = np.stack([w.draws for w in worlds])  # (W, B)
    picks = np.random.default_rng(seed).integers(len(worlds), size=(draws.shape[1], len(worlds)))
    columns = np.arange(draws.shape[1])[:, None]
    return Estimate(float(values.mean()), np.nanmean(draws[picks, columns], axis=1))


def gap_figure(agent: str, low: str = "random", high: str = "oracle") -> Figure:
    """(agent - low) / (high - low) of the means: the share of the random-to-oracle gap."""
    def figure(m: dict[str, Any]) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (m[agent] - m[low]) / (m[high] - m[low])
    return figure


def difference_figure(a: str, b: str, low: str = "random", high: str = "oracle") -> Figure:
    """(a - b) / (high - low): a paired difference in units of the random-to-oracle gap."""
    def figure(m: dict[str, Any]) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (m[a] - m[b]) / (m[high] - m[low])
    return figure


def mean_figure(name: str) -> Figure:
    return lambda m: m[name]
