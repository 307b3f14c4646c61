"""The simulator on executors: the same shards everywhere, written as they finish, resumed."""

from __future__ import annotations

import pytest

from pasta_core.errors import InvalidValueError
from pasta_core.plugins import get_plugins
from pasta_simulate.executors import ExecutorError, InProcessExecutor, ProcessExecutor, RayExecutor
from pasta_simulate.simulate import SimulationSpec, simulate

SPEC = SimulationSpec(count=6, shard_size=2, turns=2, slate_size=2, images_per_prompt=2, t2i_options={"size": 32})


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    simulate(SPEC, folder, plugins=get_plugins(), progress=False)
    return _files(folder)


def test_in_process_executor_writes_the_same_files(reference, tmp_path):
    result = simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, executor="in-process")
    assert result.computed == 6 and _files(tmp_path) == reference


def test_env_switch_chooses_the_executor(reference, tmp_path, monkeypatch):
    monkeypatch.setenv("PASTA_EXECUTOR", "in-process")
    assert simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False).computed == 6
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
        simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, executor=Interrupted(keep=2))
    assert len(_files(tmp_path)) == 2
    result = simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, executor="in-process")
    assert result.computed == 2 and _files(tmp_path) == reference


def test_a_user_model_object_needs_the_in_process_executor(tmp_path):
    model = get_plugins().create("user-model", "simple")
    with pytest.raises(InvalidValueError, match="user_model=None"):
        simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, user_model=model, executor=ProcessExecutor())
    assert simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, user_model=model, executor="in-process").computed == 6


def test_the_simulator_builds_its_components_from_the_plugin_set_it_is_given(tmp_path):
    """A generator registered only in a private plugin set is found: the simulator
    touches no other set."""
    import pasta_aggregators
    import pasta_procedural
    import pasta_selectors
    import pasta_simuser
    from pasta_core.plugins import Plugins, plugin_module
    from pasta_core.testing.fakes import FakeGenerator

    made = []

    def fake(**options):
        made.append(FakeGenerator())
        return made[-1]

    private = plugin_module("private", pasta_register_generators=lambda register: register("private-fake", fake))
    plugins = Plugins(entry_points=None, extra=[pasta_aggregators, pasta_procedural, pasta_selectors, pasta_simuser,
                                                private])
    spec = SimulationSpec(count=2, shard_size=2, turns=2, slate_size=2, images_per_prompt=2, generator="private-fake",
                          t2i_options={"size": 32})
    assert simulate(spec, tmp_path, progress=False, plugins=plugins).computed == 2
    assert len(made) == 1 and len(made[0].requests) == 2 * 2


def test_simulate_is_registered_by_its_own_package(monkeypatch):
    """Disabling the planted plugin keeps `pasta simulate` (pasta_simulate registers it)."""
    import click

    from pasta_core.plugins import Plugins

    monkeypatch.setenv("PASTA_DISABLE_PLUGINS", "planted")
    group = click.Group("pasta")
    plugins = Plugins()
    plugins.add_commands(group)
    assert "simulate" in group.commands and "planted" not in group.commands
    assert [info.hooks for info in plugins.info() if info.name == "simulate"] == [("pasta_register_commands",)]


@pytest.mark.slow
def test_process_pool_writes_the_same_files(reference, tmp_path):
    result = simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, executor=ProcessExecutor(workers=2))
    assert result.computed == 6 and _files(tmp_path) == reference


@pytest.mark.slow
def test_ray_writes_the_same_files_and_resumes(local_ray, reference, tmp_path):
    result = simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, executor=RayExecutor(workers=2))
    assert result.computed == 6 and _files(tmp_path) == reference
    (tmp_path / "part-00001.parquet").unlink()
    again = simulate(SPEC, tmp_path, plugins=get_plugins(), progress=False, executor="ray")
    assert again.computed == 2 and _files(tmp_path) == reference


@pytest.mark.slow
def test_ray_on_the_command_line(local_ray, reference, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    monkeypatch.setenv("PASTA_EXECUTOR", "ray")
    args = ["simulate", "-n", "6", "--shard-size", "2", "--turns", "2", "--slate-size", "2", "--images", "2",
            "--t2i-option", "size=32", "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert _files(tmp_path) == reference


@pytest.mark.parametrize("how", [{"workers": 2}, {"executor": ProcessExecutor(workers=2)}], ids=["pool", "process"])
def test_workers_build_the_callers_private_plugin_set(reference, tmp_path, how):
    """A T2I model registered only in the caller's set (from an importable module) is the
    one the worker processes render with: they rebuild that set, not the installed one."""
    import attrs
    import private_plugin

    from pasta_core.plugins import Plugins

    spec = attrs.evolve(SPEC, t2i="private-procedural")
    assert "private-procedural" not in get_plugins().registry("t2i")
    result = simulate(spec, tmp_path, plugins=Plugins(extra=[private_plugin]), progress=False, **how)
    assert result.computed == 6 and _files(tmp_path) == reference


def test_a_plugin_disabled_in_the_caller_is_not_in_its_workers(monkeypatch):
    """The workers load the plugins the caller loaded, whatever their own environment says."""
    import private_plugin

    from pasta_core.plugins import Plugins
    from pasta_simulate.pool import spawn_pool

    monkeypatch.setenv("PASTA_DISABLE_PLUGINS", "procedural")
    recipe = Plugins(extra=[private_plugin]).recipe()
    monkeypatch.delenv("PASTA_DISABLE_PLUGINS")
    with spawn_pool(1) as pool:
        names = pool.submit(private_plugin.registered_names, recipe).result()
    assert "procedural" not in names["t2i"] and "private-procedural" in names["t2i"]
    assert "random" in names["selector"]


def test_a_plugin_workers_cannot_rebuild_is_a_one_line_error(tmp_path):
    from pasta_core.errors import PluginError
    from pasta_core.plugins import Plugins, plugin_module

    adhoc = plugin_module("adhoc", pasta_register_t2i_models=lambda register: None)
    with pytest.raises(PluginError, match="'adhoc' is not a module importable by name") as caught:
        simulate(SPEC, tmp_path, plugins=Plugins(extra=[adhoc]), progress=False, workers=2)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("how", [{"workers": 2}, {"executor": ProcessExecutor(workers=2, retries=0)}],
                         ids=["pool", "process"])
def test_a_worker_that_cannot_build_its_components_is_the_callers_error(tmp_path, monkeypatch, how):
    """A worker whose set-up fails (here: a module of the caller's set that a fresh process
    cannot import) hands its PASTA error to the caller, not a broken pool."""
    import sys
    import types

    from pasta_core.errors import PastaError
    from pasta_core.plugins import Plugins

    ephemeral = types.ModuleType("pasta_ephemeral_plugin")  # importable here only: it lives in sys.modules
    monkeypatch.setitem(sys.modules, "pasta_ephemeral_plugin", ephemeral)
    with pytest.raises(PastaError, match="module 'pasta_ephemeral_plugin' cannot be imported in this worker") as caught:
        simulate(SPEC, tmp_path, plugins=Plugins(extra=[ephemeral]), progress=False, **how)
    assert "\n" not in str(caught.value) and "BrokenProcessPool" not in str(caught.value)


def test_an_unknown_component_with_workers_is_one_line(tmp_path):
    from click.testing import CliRunner

    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    result = CliRunner().invoke(cli, ["simulate", "-n", "4", "--workers", "2", "--t2i", "nosuch", "--quiet",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: unknown t2i 'nosuch'; installed: "
                                                  + ", ".join(get_plugins().registry("t2i").names())]
