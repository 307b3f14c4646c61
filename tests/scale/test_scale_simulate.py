"""The simulator on executors: the same shards everywhere, written as they finish, resumed."""

from __future__ import annotations

import pytest

from pasta_core.errors import InvalidValueError
from pasta_core.executors import ExecutorError, InProcessExecutor, ProcessExecutor, RayExecutor
from pasta_core.simulate import SimulationSpec, simulate

SPEC = SimulationSpec(count=6, shard_size=2, turns=2, slate_size=2, images_per_prompt=2, t2i_options={"size": 32})


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    simulate(SPEC, folder, progress=False)
    return _files(folder)


def test_in_process_executor_writes_the_same_files(reference, tmp_path):
    result = simulate(SPEC, tmp_path, progress=False, executor="in-process")
    assert result.computed == 6 and _files(tmp_path) == reference


def test_env_switch_chooses_the_executor(reference, tmp_path, monkeypatch):
    monkeypatch.setenv("PASTA_EXECUTOR", "in-process")
    assert simulate(SPEC, tmp_path, progress=False).computed == 6
    assert _files(tmp_path) == reference


class Interrupted(InProcessExecutor):
    """Stops (as a kill would) after ``keep`` shards."""

    def __init__(self, keep):
        super().__init__()
        self.keep = keep

    def map(self, setup, task, items):
        for n, pair in enumerate(super().map(setup, task, items)):
            if n == self.keep:
                raise ExecutorError("killed")
            yield pair


def test_shards_are_written_as_they_finish_and_a_rerun_skips_them(reference, tmp_path):
    with pytest.raises(ExecutorError):
        simulate(SPEC, tmp_path, progress=False, executor=Interrupted(keep=2))
    assert len(_files(tmp_path)) == 2
    result = simulate(SPEC, tmp_path, progress=False, executor="in-process")
    assert result.computed == 2 and _files(tmp_path) == reference


def test_a_user_model_object_needs_the_in_process_executor(tmp_path):
    from pasta_core import get_plugins

    model = get_plugins().create("user-model", "simple")
    with pytest.raises(InvalidValueError, match="user_model=None"):
        simulate(SPEC, tmp_path, progress=False, user_model=model, executor=ProcessExecutor())
    assert simulate(SPEC, tmp_path, progress=False, user_model=model, executor="in-process").computed == 6


@pytest.mark.slow
def test_process_pool_writes_the_same_files(reference, tmp_path):
    result = simulate(SPEC, tmp_path, progress=False, executor=ProcessExecutor(workers=2))
    assert result.computed == 6 and _files(tmp_path) == reference


@pytest.mark.slow
def test_ray_writes_the_same_files_and_resumes(local_ray, reference, tmp_path):
    result = simulate(SPEC, tmp_path, progress=False, executor=RayExecutor(workers=2))
    assert result.computed == 6 and _files(tmp_path) == reference
    (tmp_path / "part-00001.parquet").unlink()
    again = simulate(SPEC, tmp_path, progress=False, executor="ray")
    assert again.computed == 2 and _files(tmp_path) == reference


@pytest.mark.slow
def test_ray_on_the_command_line(local_ray, reference, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pasta_core.cli import cli, load_plugin_commands

    load_plugin_commands()
    monkeypatch.setenv("PASTA_EXECUTOR", "ray")
    args = ["simulate", "-n", "6", "--shard-size", "2", "--turns", "2", "--slate-size", "2", "--images", "2",
            "--t2i-option", "size=32", "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert _files(tmp_path) == reference
