"""Fixtures for the scale tests: a local Ray with 2 CPUs and 2 logical GPUs, shared by the
Ray tests."""

from __future__ import annotations

import pytest
from scale_tasks import ray_or_skip


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray with 2 CPUs for the whole session (about 2-5 s to start). It also
    declares 2 GPUs (Ray's resources are logical: no GPU is needed) so that the placement of
    workers on GPUs is tested on a CPU machine; workers that ask for none are unaffected."""
    ray = ray_or_skip()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()
