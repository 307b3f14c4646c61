"""Data-parallel training: 2 gloo processes under torchrun give the one-process result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pasta_distributed import DataParallel, data_parallel

SCRIPT = Path(__file__).with_name("dist_train.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _run(kind: str, out: Path, processes: int) -> dict[str, np.ndarray]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    if processes == 1:
        command = [sys.executable, str(SCRIPT), kind, str(out)]
    else:
        command = [str(TORCHRUN), "--standalone", f"--nproc-per-node={processes}", str(SCRIPT), kind, str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(out))


def test_shards_cover_the_batch_once():
    for world in (1, 2, 3, 5):
        for n in (world, 7, 10, 128):
            parts = [DataParallel(rank, world).shard(n) for rank in range(world)]
            covered = [i for part in parts for i in range(n)[part]]
            assert covered == list(range(n))
            assert max(len(range(n)[p]) for p in parts) - min(len(range(n)[p]) for p in parts) <= 1


def test_outside_torchrun_the_group_is_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    group = data_parallel()
    assert not group.active and group.is_main
    assert group.sum(3.0) == 3.0


@pytest.mark.slow
def test_em_on_two_processes_matches_one(tmp_path):
    """Losses and the networks' weights agree to float rounding. The scalars that get
    (almost) no gradient from pair labels (``spread``, ``rating_scale`` and the three
    ``satisfaction_*`` of the column-score likelihood) are compared loosely: AdamW turns a
    rounding-sized gradient into a learning-rate-sized step, and decays a parameter whose
    gradient two processes summed as zeros where one process alone has none."""
    one = _run("em", tmp_path / "one.npz", 1)
    two = _run("em", tmp_path / "two.npz", 2)
    np.testing.assert_allclose(one["losses"], two["losses"], rtol=1e-5)
    for key in one:
        loose = key in ("spread", "rating_scale") or key.startswith("satisfaction_")
        np.testing.assert_allclose(one[key], two[key], rtol=1e-5, atol=3e-3 if loose else 1e-6, err_msg=key)


@pytest.mark.slow
def test_iql_on_two_processes_matches_one(tmp_path):
    """Pair-level IQL (Adafactor, the paper's optimizer): losses and weights agree."""
    one = _run("iql", tmp_path / "one.npz", 1)
    two = _run("iql", tmp_path / "two.npz", 2)
    np.testing.assert_allclose(one["losses"], two["losses"], rtol=1e-5)
    for key in one:
        np.testing.assert_allclose(one[key], two[key], rtol=1e-5, atol=1e-6, err_msg=key)
