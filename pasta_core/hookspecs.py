"""The hooks a PASTA plugin can implement.

A plugin is a module (registered in the ``pasta`` entry point group) with functions
decorated by :data:`pasta_core.hookimpl` and named after these specs. Registration hooks
receive a ``register`` callable: ``register(name, factory, description="")`` adds a
component factory to the typed registry of that kind. A factory is called with the user's
options as keyword arguments (``--generator-option key=value`` on the command line) and
returns an object satisfying the kind's protocol in :mod:`pasta_core.protocols`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from pasta_core.plugins import Plugins
    from pasta_core.registry import Register

hookspec = pluggy.HookspecMarker("pasta")


@hookspec
def pasta_register_generators(register: Register) -> None:
    """Register candidate generators (factories returning a ``CandidateGenerator``)."""


@hookspec
def pasta_register_selectors(register: Register) -> None:
    """Register slate selectors (factories returning a ``Selector``)."""


@hookspec
def pasta_register_t2i_models(register: Register) -> None:
    """Register text-to-image models (factories returning a ``T2IModel``)."""


@hookspec
def pasta_register_user_models(register: Register) -> None:
    """Register user models and simulated users (factories returning a ``UserModel``)."""


@hookspec
def pasta_register_aggregators(register: Register) -> None:
    """Register column aggregators (factories returning an ``Aggregator``)."""


@hookspec
def pasta_register_value_models(register: Register) -> None:
    """Register value models for the value selector and the IQL trainer."""


@hookspec
def pasta_register_encoders(register: Register) -> None:
    """Register text/image encoder pairs used by user models (e.g. ``openclip``)."""


@hookspec
def pasta_register_commands(cli: click.Group, plugins: Plugins) -> None:
    """Add sub-commands to the ``pasta`` command line (``cli.add_command(...)``).

    ``plugins`` is the plugin set the command line was built from (an implementation may
    leave the argument out). A plugin that owns a command group can let other plugins add
    to it through a hook of its own, called with ``plugins.call_each`` (the ``bench`` group
    calls :func:`pasta_register_bench_commands`). Keep imports of heavy libraries inside
    the command functions so ``pasta --help`` stays fast.
    """


@hookspec
def pasta_register_bench_commands(bench: click.Group) -> None:
    """Add benchmarks to the ``pasta bench`` group (``bench.add_command(...)``); called by
    the plugin that owns the group (``pasta_bench``)."""
