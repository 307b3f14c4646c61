"""Rendering many (prompt, seed) pairs on an executor's workers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from pasta_core.errors import InvalidValueError
from pasta_simulate.executors import Executor, InProcessExecutor, get_executor

if TYPE_CHECKING:
    from pasta_core.plugins import PluginRecipe, Plugins


@attrs.frozen
class T2ISetup:
    """Builds a worker's T2I model from its registered name and options, with a copy of
    the caller's plugin set (picklable, run in the worker)."""

    name: str
    recipe: PluginRecipe
    options: dict[str, Any] = attrs.field(factory=dict)

    def __call__(self) -> Any:
        return self.recipe.build().create("t2i", self.name, **self.options)


def _render_chunk(t2i: Any, chunk: tuple[int, tuple[str, ...], tuple[int, ...]]) -> list[Any]:
    return list(t2i.render(list(chunk[1]), list(chunk[2])))


def render_many(t2i: str, prompts: Sequence[str], seeds: Sequence[int], executor: Executor | str | None = None,
                options: dict[str, Any] | None = None, chunk_size: int = 64, *, plugins: Plugins) -> list[Any]:
    """Render ``prompts`` (one image per prompt and seed) in chunks on ``executor``'s
    workers, each holding its own copy of T2I model ``t2i``; images in input order.
    ``plugins`` builds the model (a worker in another process uses a copy of it)."""
    if len(prompts) != len(seeds):
        raise InvalidValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    chunks = [(start, tuple(prompts[start : start + chunk_size]), tuple(int(s) for s in seeds[start : start + chunk_size]))
              for start in range(0, len(prompts), chunk_size)]
    chosen = get_executor(executor)
    options = dict(options or {})
    setup = (lambda: plugins.create("t2i", t2i, **options)) if isinstance(chosen, InProcessExecutor) \
        else T2ISetup(t2i, plugins.recipe(), options)
    images: list[Any] = [None] * len(prompts)
    for chunk, rendered in chosen.map(setup, _render_chunk, chunks):
        images[chunk[0] : chunk[0] + len(rendered)] = rendered
    return images
