"""Fixtures for the scale tests: a local Ray with 2 CPUs, shared by the Ray tests."""

from __future__ import annotations

import importlib.util
import os

import pytest


def ray_or_skip():
    """ray, or skip with the reason (outside CI only: in CI a missing ray is a failure)."""
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed in CI: scripts/setup.sh should install the test extra")
        pytest.skip("ray is not installed (pip install 'pasta-t2i[ray]')")
    import ray

    return ray


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray with 2 CPUs for the whole session (about 2-5 s to start)."""
    ray = ray_or_skip()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()
