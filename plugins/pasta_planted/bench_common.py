"""What the stages of ``pasta bench planted`` share: the skip signal, torch's thread
setting, the data sets' seeds and the Wilson interval of a proportion."""

from __future__ import annotations

import numpy as np

from pasta_core.streams import run_seed

#: The data sets of a bench run, each rooted at its own ``dataset`` stream of a seed.
DATASETS = {"train": 0, "test": 1, "pairs": 2, "simulated": 3, "evaluation": 4, "distill": 5}


def dataset_seed(root: int, name: str) -> int:
    """The root seed of data set ``name`` (:data:`DATASETS`) of a run seeded ``root``."""
    return run_seed(root, "dataset", DATASETS[name])


class StageSkipped(Exception):
    """A stage could not run; the message says why."""


def single_thread_torch() -> None:
    """The bench's models are tiny: torch's thread pool only adds overhead (and, on a busy
    machine, spin-waiting): one thread is several times faster here."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def proportion_ci(p: float, n: int) -> list[float]:
    """Wilson 95% interval of a proportion ``p`` measured on ``n`` trials."""
    if n == 0 or not np.isfinite(p):
        return [float("nan"), float("nan")]
    z = 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(centre - half), float(centre + half)]
