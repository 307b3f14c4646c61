"""Executors: in-process, process pool and Ray give the same results; retries; errors."""

from __future__ import annotations

import os

import pytest
import scale_tasks

from pasta_core.errors import InvalidValueError
from pasta_core.plugins import get_plugins
from pasta_simulate.executors import (
    ExecutorError,
    InProcessExecutor,
    ProcessExecutor,
    RayExecutor,
    get_executor,
)
from pasta_simulate.render import render_many


def _results(executor, items):
    return dict(executor.map(scale_tasks.make_state, scale_tasks.square, items))


def test_in_process_runs_every_item_in_order():
    pairs = list(InProcessExecutor().map(scale_tasks.make_state, scale_tasks.square, [3, 1, 2]))
    assert [item for item, _ in pairs] == [3, 1, 2]
    assert [r[0] for _, r in pairs] == [9, 1, 4]


def test_in_process_retries_then_gives_up(tmp_path):
    items = [(str(tmp_path), n) for n in range(3)]
    assert sorted(r for _, r in InProcessExecutor(retries=1).map(scale_tasks.make_state, scale_tasks.fail_once, items)) == [0, 1, 2]
    with pytest.raises(ExecutorError, match="bad item 4"):
        list(InProcessExecutor(retries=2).map(scale_tasks.make_state, scale_tasks.always_fail, [4]))


def test_get_executor_by_name_env_and_object(monkeypatch):
    assert get_executor().name == "in-process"
    monkeypatch.setenv("PASTA_EXECUTOR", "process")
    monkeypatch.setenv("PASTA_WORKERS", "3")
    chosen = get_executor()
    assert isinstance(chosen, ProcessExecutor) and chosen.workers == 3
    same = InProcessExecutor()
    assert get_executor(same) is same
    with pytest.raises(InvalidValueError, match="in-process, process, ray"):
        get_executor("threads")


@pytest.mark.slow
def test_process_pool_matches_in_process_and_survives_failures(tmp_path):
    items = list(range(6))
    results = _results(ProcessExecutor(workers=2), items)
    assert {k: v[0] for k, v in results.items()} == {n: n * n for n in items}
    assert os.getpid() not in {pid for _, pid in results.values()}, "tasks must run in worker processes"
    flaky = [(str(tmp_path), n) for n in range(4)]
    got = sorted(r for _, r in ProcessExecutor(workers=2).map(scale_tasks.make_state, scale_tasks.fail_once, flaky))
    assert got == [0, 1, 2, 3]
    crashy = [(str(tmp_path), n) for n in range(3)]
    got = sorted(r for _, r in ProcessExecutor(workers=2).map(scale_tasks.make_state, scale_tasks.crash_once, crashy))
    assert got == [0, 1, 2]
    with pytest.raises(ExecutorError, match="bad item"):
        list(ProcessExecutor(workers=2, retries=1).map(scale_tasks.make_state, scale_tasks.always_fail, [1]))


@pytest.mark.slow
def test_ray_retries_failed_tasks_and_restarts_dead_actors(local_ray, tmp_path):
    local_ray.cloudpickle.register_pickle_by_value(scale_tasks)
    results = _results(RayExecutor(workers=2), list(range(5)))
    assert {k: v[0] for k, v in results.items()} == {n: n * n for n in range(5)}
    flaky = [(str(tmp_path), n) for n in range(3)]
    assert sorted(r for _, r in RayExecutor(workers=2).map(scale_tasks.make_state, scale_tasks.fail_once, flaky)) == [0, 1, 2]
    crashy = [(str(tmp_path), n) for n in range(3)]
    assert sorted(r for _, r in RayExecutor(workers=2).map(scale_tasks.make_state, scale_tasks.crash_once, crashy)) == [0, 1, 2]
    with pytest.raises(ExecutorError, match="bad item 7"):
        list(RayExecutor(workers=1, retries=1).map(scale_tasks.make_state, scale_tasks.always_fail, [7]))


def test_render_many_keeps_input_order():
    prompts = ["a red cube", "a blue sea", "a green tree"] * 3
    seeds = list(range(9))
    images = render_many("procedural", prompts, seeds, options={"size": 32}, chunk_size=4, plugins=get_plugins())
    t2i = get_plugins().create("t2i", "procedural", size=32)
    direct = t2i.render(prompts, seeds)
    assert [im.tobytes() for im in images] == [im.tobytes() for im in direct]
    with pytest.raises(InvalidValueError):
        render_many("procedural", prompts, seeds[:2], plugins=get_plugins())


def test_ray_missing_is_reported_clearly(monkeypatch):
    scale_tasks.ray_or_skip()  # only meaningful with the module present: hide it and expect the extra's name
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    from pasta_core.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match=r"pasta-t2i\[ray\]"):
        list(RayExecutor().map(scale_tasks.make_state, scale_tasks.square, [1]))


def test_spawned_workers_take_their_share_of_the_cores():
    """Two workers on this machine get cpu_count // 2 threads each (at least 1), not all cores."""
    import os

    from pasta_simulate.pool import spawn_pool

    with spawn_pool(2) as pool:
        got = pool.submit(os.getenv, "OMP_NUM_THREADS").result()
    assert got == str(max(1, (os.cpu_count() or 1) // 2))
