"""The ``procedural`` text-to-image model: an offline renderer whose pictures follow the prompt.

Prompt words choose the palette (colour and scene words), the subjects and their count
(nouns, numbers), the layout (position and size words), the texture (style words such as
"watercolor", "pixel art", "sketch") and the colour grading (mood and lighting words).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pasta_core import hookimpl
from pasta_core.errors import InvalidValueError
from pasta_procedural.scene import Scene, describe

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["ProceduralT2I", "describe", "Scene"]


class ProceduralT2I:
    """Seeded procedural renderer (the embedded default ``T2IModel``)."""

    def __init__(self, size: int | str = 256) -> None:
        self.size = int(size)
        if not 32 <= self.size <= 2048:
            raise InvalidValueError(f"procedural size must be 32..2048 pixels, got {self.size}")
        self._describe = lru_cache(maxsize=4096)(describe)

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Image]:
        from pasta_procedural.render import render_scene

        if len(prompts) != len(seeds):
            raise InvalidValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        return [render_scene(self._describe(p), int(s), self.size) for p, s in zip(prompts, seeds)]


@hookimpl
def pasta_register_t2i_models(register: Any) -> None:
    register("procedural", ProceduralT2I, "offline renderer: prompt words -> palette, shapes, layout, texture")
