"""The planted world: a synthetic population with K* known user types.

It is the project's honest yardstick (docs/planted-world.md): human-like sessions and
Pick-a-Pic-style pairs drawn from known tastes, the ``planted`` user model, an ``oracle``
selector that knows a user's planted type, ``pasta planted sessions|pairs`` and
``pasta bench planted`` (added to the ``bench`` group that ``pasta_bench`` owns).

Python::

    from pasta_planted import PlantedWorld
    world = PlantedWorld.from_file("docs/examples/world.toml")
    world.utilities("a white cat", columns)      # (K*, L) true column utilities
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl
from pasta_planted.world import PlantedWorld

__all__ = ["PlantedWorld"]


def _user_model(*, plugins: Any, **options: Any) -> Any:
    from pasta_planted.usermodel import create_planted_user_model

    return create_planted_user_model(plugins=plugins, **options)


def _oracle(*, plugins: Any, **options: Any) -> Any:
    from pasta_planted.oracle import create_oracle

    return create_oracle(plugins=plugins, **options)


@hookimpl
def pasta_register_user_models(register: Any) -> None:
    register("planted", _user_model, "the planted world's K* known types (world=FILE; default: example world)")


@hookimpl
def pasta_register_selectors(register: Any) -> None:
    register("oracle", _oracle, "knows the planted type: best expected true utility per category (world=FILE, user_type=K)")


@hookimpl
def pasta_register_commands(cli: Any) -> None:
    from pasta_planted.commands import planted_group

    cli.add_command(planted_group)


@hookimpl
def pasta_register_bench_commands(bench: Any) -> None:
    from pasta_planted.commands import bench_planted_command

    bench.add_command(bench_planted_command)
