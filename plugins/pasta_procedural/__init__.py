"""The ``procedural`` text-to-image model: an offline renderer whose pictures show the prompt.

The prompt's nouns are drawn as pictograms (Twemoji, through a shipped word table; see
:mod:`pasta_procedural.pictograms`), tinted by colour words, as many as count words say,
placed by position and relation words ("on", "left of"). Scene words set the sky, ground and
props, weather words draw fog, rain or snow, style words choose the texture pass ("watercolor",
"pixel art", "sketch") and mood words the colour grading.
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

    def release_memory(self) -> None:
        """Drop what is kept for reuse (the prompts' scenes and the pictograms); a server
        calls this when nothing is being rendered, after a burst of visitors."""
        from pasta_procedural import pictograms

        self._describe.cache_clear()
        pictograms.clear_caches()


@hookimpl
def pasta_register_t2i_models(register: Any) -> None:
    register("procedural", ProceduralT2I, "offline renderer: prompt nouns -> pictograms in a scene, styled and graded")
