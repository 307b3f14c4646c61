"""Fixtures for the scale tests: a local Ray with 2 CPUs, shared by the Ray tests."""

from __future__ import annotations

import pytest
from scale_tasks import ray_or_skip


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
