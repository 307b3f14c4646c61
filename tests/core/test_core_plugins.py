"""Plugin discovery, registries and the environment switches."""

from __future__ import annotations

import json
import sys
import types
from importlib import metadata

import pytest

from pasta_core import Plugins, hookimpl
from pasta_core.errors import DuplicatePluginError, PluginError, UnknownPluginError
from pasta_core.plugins import plugin_module


class FakeDist:
    name = "pasta-fake-dist"
    version = "9.9"


def entry_point(name: str, module: str) -> metadata.EntryPoint:
    ep = metadata.EntryPoint(name=name, value=module, group="pasta")
    return ep._for(FakeDist()) if hasattr(ep, "_for") else ep


@pytest.fixture
def fake_module(monkeypatch):
    """Put a plugin module on sys.modules under a unique name, as an installed dist would."""

    def install(name: str, **hooks):
        module = plugin_module(name, **hooks)
        monkeypatch.setitem(sys.modules, name, module)
        return module

    return install


def _register_gen(register):
    register("fake-gen", lambda **kw: ("gen", kw), "a fake generator")


def test_entry_point_plugins_are_loaded_and_fill_registries(fake_module):
    fake_module("fake_plugin_a", pasta_register_generators=_register_gen)
    plugins = Plugins(entry_points=lambda: [entry_point("a", "fake_plugin_a")])
    assert plugins.create("generator", "fake-gen", x="1") == ("gen", {"x": "1"})
    (info,) = plugins.info()
    assert info.name == "a" and "pasta_register_generators" in info.hooks
    assert plugins.provided() == {"a": {"generator": ["fake-gen"]}}


def test_broken_plugin_is_reported_and_skipped(fake_module):
    fake_module("fake_plugin_ok", pasta_register_generators=_register_gen)
    eps = [entry_point("broken", "no_such_module_xyz"), entry_point("ok", "fake_plugin_ok")]
    plugins = Plugins(entry_points=lambda: eps)
    assert [f.name for f in plugins.failures] == ["broken"]
    assert "ModuleNotFoundError" in plugins.failures[0].error
    assert "fake-gen" in plugins.registry("generator")


def test_plugin_that_fails_while_registering_is_reported(fake_module):
    def explode(register):
        raise RuntimeError("boom")

    fake_module("fake_plugin_boom", pasta_register_selectors=explode)
    plugins = Plugins(entry_points=lambda: [entry_point("boom", "fake_plugin_boom")])
    assert len(plugins.registry("selector")) == 0
    assert plugins.failures[0].name == "boom" and "boom" in plugins.failures[0].error


def test_duplicate_names_are_an_error(fake_module):
    fake_module("fake_dup_1", pasta_register_generators=_register_gen)
    fake_module("fake_dup_2", pasta_register_generators=_register_gen)
    plugins = Plugins(entry_points=lambda: [entry_point("d1", "fake_dup_1"), entry_point("d2", "fake_dup_2")])
    with pytest.raises(DuplicatePluginError, match="registered twice"):
        plugins.registry("generator")


def test_unknown_name_lists_the_installed_ones(fake_module):
    fake_module("fake_plugin_b", pasta_register_generators=_register_gen)
    plugins = Plugins(entry_points=lambda: [entry_point("b", "fake_plugin_b")])
    with pytest.raises(UnknownPluginError, match=r"unknown generator 'gemni'; installed: fake-gen"):
        plugins.create("generator", "gemni")


def test_unknown_kind_is_an_error():
    with pytest.raises(PluginError, match="kinds"):
        Plugins(entry_points=None).registry("nope")


@pytest.mark.parametrize(
    ("variable", "value", "loaded"),
    [("PASTA_LOAD_PLUGINS", "a", ["a"]), ("PASTA_LOAD_PLUGINS", "", []), ("PASTA_DISABLE_PLUGINS", "a", ["b"])],
)
def test_environment_switches(monkeypatch, fake_module, variable, value, loaded):
    fake_module("fake_env_a", pasta_register_generators=_register_gen)
    fake_module("fake_env_b", pasta_register_aggregators=lambda register: None)
    monkeypatch.setenv(variable, value)
    plugins = Plugins(entry_points=lambda: [entry_point("a", "fake_env_a"), entry_point("b", "fake_env_b")])
    assert [i.name for i in plugins.info()] == loaded


def test_registering_directly_resets_the_registries():
    plugins = Plugins(entry_points=None)
    assert len(plugins.registry("generator")) == 0
    plugins.register(plugin_module("direct", pasta_register_generators=_register_gen))
    assert plugins.registry("generator").names() == ["fake-gen"]


def test_a_recipe_round_trips_through_pickle_and_builds_an_equal_set(fake_module):
    import pickle

    plugins = Plugins(entry_points=None, extra=[fake_module("fake_recipe_mod", pasta_register_generators=_register_gen)])
    recipe = pickle.loads(pickle.dumps(plugins.recipe()))
    assert recipe == plugins.recipe() and recipe.modules == (("fake_recipe_mod", "fake_recipe_mod"),)
    rebuilt = recipe.build()
    assert rebuilt is not plugins and rebuilt.provided() == plugins.provided() == {"fake_recipe_mod": {"generator": ["fake-gen"]}}
    assert rebuilt.recipe() == recipe


def test_a_recipe_keeps_the_entry_points_the_parent_loaded(monkeypatch):
    """Built where the environment switches differ, the set is still the parent's."""
    monkeypatch.setenv("PASTA_DISABLE_PLUGINS", "template")
    plugins = Plugins()
    recipe = plugins.recipe()
    monkeypatch.delenv("PASTA_DISABLE_PLUGINS")
    assert "template" not in recipe.entry_points and "procedural" in recipe.entry_points
    rebuilt = recipe.build()
    assert [i.name for i in rebuilt.info()] == [i.name for i in plugins.info()]
    assert "template" not in rebuilt.registry("generator")


def test_a_plugin_without_an_importable_module_has_no_recipe():
    plugins = Plugins(entry_points=None, extra=[plugin_module("adhoc", pasta_register_generators=_register_gen)])
    with pytest.raises(PluginError, match="'adhoc' is not a module importable by name") as caught:
        plugins.recipe()
    assert "\n" not in str(caught.value)


def test_a_recipe_naming_a_plugin_not_installed_is_an_error():
    from pasta_core.plugins import PluginRecipe

    with pytest.raises(PluginError, match="no-such-plugin are not installed"):
        PluginRecipe(("no-such-plugin",)).build()
    with pytest.raises(PluginError, match="module 'no_such_module_xyz' cannot be imported in this worker"):
        PluginRecipe((), (("gone", "no_such_module_xyz"),), discover=False).build()


def test_a_recipe_entry_point_the_worker_cannot_load_is_an_error(monkeypatch):
    """The caller loaded it, the worker cannot: a one-line error, not a smaller set."""
    from importlib import metadata

    from pasta_core.plugins import PluginRecipe

    real = metadata.entry_points

    def broken_template(**kw):
        return [metadata.EntryPoint("template", "no_such_module_xyz", "pasta") if ep.name == "template" else ep
                for ep in real(**kw)]

    monkeypatch.setattr(metadata, "entry_points", broken_template)
    with pytest.raises(PluginError, match="plugin 'template' cannot be loaded in this worker") as caught:
        PluginRecipe(("template", "procedural")).build()
    assert "\n" not in str(caught.value) and "no_such_module_xyz" in str(caught.value)


def test_pasta_plugins_fixture_builds_isolated_sets(pasta_plugins):
    module = types.SimpleNamespace(pasta_register_generators=hookimpl(_register_gen))
    plugins = pasta_plugins(module)
    assert plugins.registry("generator").names() == ["fake-gen"]
    assert "template" not in plugins.registry("generator")


def test_builtin_plugins_are_discovered_through_entry_points():
    plugins = Plugins()
    names = {i.name for i in plugins.info()}
    assert {"template", "procedural", "aggregators", "selectors", "simple-user"} <= names
    assert {"random", "first"} <= set(plugins.registry("selector").names())
    assert {"softmax", "max", "mean"} <= set(plugins.registry("aggregator").names())
    assert all(i.distribution == "pasta-t2i" for i in plugins.info() if i.name == "template")


def test_plugins_command_json(cli_runner):
    result = cli_runner.invoke(["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["template"]["provides"] == {"generator": ["template"]}
    assert by_name["procedural"]["hooks"] == ["pasta_register_t2i_models"]


@pytest.mark.parametrize(
    "hook_name",
    [
        "pasta_register_generators",
        "pasta_register_selectors",
        "pasta_register_t2i_models",
        "pasta_register_user_models",
        "pasta_register_aggregators",
        "pasta_register_value_models",
        "pasta_register_encoders",
    ],
)
def test_every_registration_hook_fills_its_kind(hook_name):
    from pasta_core.registry import KINDS

    kind = {v: k for k, v in KINDS.items()}[hook_name]
    plugin = plugin_module("p", **{hook_name: lambda register: register("thing", lambda **kw: kw, "doc")})
    plugins = Plugins(entry_points=None, extra=[plugin])
    assert plugins.create(kind, "thing", a=1) == {"a": 1}
    assert plugins.registry(kind).get("thing").description == "doc"


def test_pasta_register_commands_adds_a_cli_command():
    import click
    from click.testing import CliRunner

    @click.command("hello")
    def hello():
        click.echo("hi from a plugin")

    group = click.Group("pasta")
    plugins = Plugins(entry_points=None, extra=[plugin_module("c", pasta_register_commands=lambda cli: cli.add_command(hello))])
    plugins.add_commands(group)
    assert CliRunner().invoke(group, ["hello"]).output == "hi from a plugin\n"


def test_a_plugin_failing_to_add_commands_is_reported_not_fatal():
    import click

    def broken(cli):
        raise ImportError("no module named x")

    group = click.Group("pasta")
    plugins = Plugins(entry_points=None, extra=[plugin_module("bad", pasta_register_commands=broken)])
    plugins.add_commands(group)
    assert plugins.failures[0].name == "bad" and "ImportError" in plugins.failures[0].error


def test_a_hook_taking_an_argument_its_caller_does_not_give_is_a_one_line_error():
    """The failure names the plugin, the hook and the argument (it was a bare KeyError)."""
    import click

    plugins = Plugins(entry_points=None,
                      extra=[plugin_module("wants", pasta_register_commands=lambda cli, plugins: None)])
    plugins.call_each("pasta_register_commands", lambda plugin: {"cli": click.Group("pasta")})
    (failure,) = plugins.failures
    assert failure.name == "wants"
    assert failure.error == ("PluginError: plugin 'wants': its pasta_register_commands takes 'plugins', "
                             "which the caller does not give (it gives cli)")


def test_a_factory_given_an_unknown_or_bad_option_names_its_options():
    """`--t2i-option bogus=1` / `size=abc`: one PluginError naming the component, the
    option and the options the factory takes (not a TypeError from deep inside)."""
    from pasta_core import get_plugins

    plugins = get_plugins()
    with pytest.raises(PluginError, match="t2i 'procedural' has no option 'bogus'; its options: size"):
        plugins.create("t2i", "procedural", bogus="1")
    with pytest.raises(PluginError, match=r"t2i 'procedural' refused its options \(size='abc'\).*its options: size"):
        plugins.create("t2i", "procedural", size="abc")


def test_a_factory_failing_without_options_is_not_blamed_on_them():
    """A factory's own bug (no option given) still surfaces as itself."""
    def broken() -> None:
        raise TypeError("a bug in the plugin")

    plugins = Plugins(entry_points=None)
    plugins.register(plugin_module("broken_t2i", pasta_register_t2i_models=lambda register: register("b", broken)))
    with pytest.raises(TypeError, match="a bug in the plugin"):
        plugins.create("t2i", "b")
