"""A plugin registered directly into a private plugin set (importable by name, so worker
processes can rebuild the set): a T2I model the installed plugins do not have."""

from __future__ import annotations

from typing import Any

from pasta_core.plugins import hookimpl


def make_private_t2i(**options: Any) -> Any:
    from pasta_procedural import ProceduralT2I

    return ProceduralT2I(**options)


@hookimpl
def pasta_register_t2i_models(register: Any) -> None:
    register("private-procedural", make_private_t2i, "the procedural renderer under a private name")


def registered_names(recipe: Any) -> dict[str, list[str]]:
    """Run in a worker: kind -> names of the plugin set ``recipe`` builds there."""
    plugins = recipe.build()
    return {kind: sorted(registry.names()) for kind, registry in plugins.registries.items()}
