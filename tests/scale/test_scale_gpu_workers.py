"""Ray workers on GPUs (``--worker-gpus``): each actor reserves its GPU share, sees only its
GPU, and builds one T2I pipeline there. Tested on CPU with the logical GPUs of the session's
local Ray (tests/scale/conftest.py) and a tiny diffusers pipeline."""

from __future__ import annotations

import os
import sys

import pytest

from pasta_core.errors import InvalidValueError
from pasta_core.plugins import get_plugins
from pasta_simulate.executors import RayExecutor, get_executor
from pasta_simulate.simulate import SimulationSpec, simulate


def gpu_view():
    """A worker's state: the GPUs Ray gave it and those CUDA would show it."""
    import ray

    return tuple(str(i) for i in ray.get_gpu_ids()), os.environ.get("CUDA_VISIBLE_DEVICES")


def report(state, item):
    return state


@pytest.fixture
def by_value(local_ray):
    local_ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield local_ray
    local_ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_each_worker_gets_a_gpu_of_its_own(by_value):
    results = list(RayExecutor(workers=2, gpus_per_worker=1).map(gpu_view, report, range(6)))
    views = {view for _, view in results}
    assert len(results) == 6 and len(views) == 2
    for ids, visible in views:
        assert len(ids) == 1 and visible == ids[0]
    assert {ids[0] for ids, _ in views} == {"0", "1"}


def test_without_gpus_workers_see_none(by_value):
    results = list(RayExecutor(workers=2).map(gpu_view, report, range(2)))
    assert all(view[0] == () for _, view in results)


def test_more_gpu_workers_than_gpus_are_refused_before_any_work(by_value):
    with pytest.raises(InvalidValueError, match="3 Ray workers with 1 GPU each need 3 GPUs, but the Ray cluster has 2"):
        list(RayExecutor(workers=3, gpus_per_worker=1).map(gpu_view, report, range(3)))


def test_a_cluster_without_gpus_is_named(monkeypatch, by_value):
    monkeypatch.setattr(by_value, "cluster_resources", lambda: {"CPU": 2.0})
    with pytest.raises(InvalidValueError, match="--worker-gpus asks for GPUs, but the Ray cluster has none"):
        RayExecutor(gpus_per_worker=1).actor_count(by_value, 4)


def test_gpu_shares_set_the_default_number_of_workers(by_value):
    assert RayExecutor(gpus_per_worker=1).actor_count(by_value, 10) == 2
    assert RayExecutor(gpus_per_worker=2).actor_count(by_value, 10) == 1


def test_worker_gpus_need_the_ray_executor(monkeypatch):
    with pytest.raises(InvalidValueError, match=r"--worker-gpus\) need the ray executor, not 'process'"):
        get_executor("process", gpus_per_worker=1)
    monkeypatch.setenv("PASTA_WORKER_GPUS", "0.5")
    assert get_executor("ray").gpus_per_worker == 0.5
    monkeypatch.setenv("PASTA_WORKER_GPUS", "lots")
    with pytest.raises(InvalidValueError, match="PASTA_WORKER_GPUS must be a number of GPUs"):
        get_executor("ray")


def test_worker_gpus_without_ray_is_one_line_on_the_command_line(tmp_path):
    from click.testing import CliRunner

    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    result = CliRunner().invoke(cli, ["simulate", "-n", "2", "--out", str(tmp_path), "--worker-gpus", "1"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: GPUs per worker (--worker-gpus) need the ray executor, not 'in-process'"]


@pytest.mark.slow
def test_simulation_with_one_tiny_pipeline_per_gpu_worker(local_ray, tmp_path):
    """Two Ray workers with a GPU each, each building the tiny SD pipeline (device=auto: the
    worker's GPU where there is one, the CPU here), write the in-process run's files."""
    pytest.importorskip("diffusers")
    from pasta_diffusers.tiny import save_tiny_pipeline

    model = str(save_tiny_pipeline("sd", tmp_path / "tiny-sd"))
    spec = SimulationSpec(count=4, shard_size=2, turns=2, slate_size=2, images_per_prompt=2, t2i="diffusers",
                          t2i_options={"model": model, "steps": "1", "width": "64", "height": "64"})
    here, there = tmp_path / "here", tmp_path / "ray"
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a Ray worker of one CPU: kernels round alike only with alike threads
    try:
        simulate(spec, here, plugins=get_plugins(), progress=False)
    finally:
        torch.set_num_threads(threads)
    result = simulate(spec, there, plugins=get_plugins(), progress=False,
                      executor=RayExecutor(workers=2, gpus_per_worker=1))
    assert result.computed == 4

    def files(folder):
        return {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))}

    assert files(there) == files(here) and len(files(here)) == 2
