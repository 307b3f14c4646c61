"""Picklable setups and tasks for the executor tests (module level, so spawned processes
and Ray workers can load them)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


def make_state() -> dict:
    return {"pid": os.getpid(), "built": 1}


def square(state: dict, item: int) -> tuple[int, int]:
    return item * item, state["pid"]


def fail_once(state: dict, item: tuple[str, int]) -> int:
    """Raises the first time an item is seen (a marker file remembers it)."""
    folder, n = item
    marker = Path(folder) / f"seen-{n}"
    if not marker.exists():
        marker.touch()
        raise RuntimeError(f"transient failure on {n}")
    return n


def crash_once(state: dict, item: tuple[str, int]) -> int:
    """Kills its worker process the first time item 1 is seen."""
    folder, n = item
    marker = Path(folder) / f"crashed-{n}"
    if n == 1 and not marker.exists():
        marker.touch()
        os._exit(3)
    return n


def always_fail(state: dict, item: int) -> int:
    raise ValueError(f"bad item {item}")


def ray_or_skip():
    """ray, or skip with the reason (outside CI only: in CI a missing ray is a failure)."""
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed in CI: scripts/setup.sh should install the test extra")
        pytest.skip("ray is not installed (pip install 'pasta-t2i[ray]')")
    import ray

    return ray
