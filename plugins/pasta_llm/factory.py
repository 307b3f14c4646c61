"""The options every LLM generator factory shares, read into an :class:`LLMGenerator`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pasta_llm.generator import LLMGenerator
from pasta_llm.images import image_options
from pasta_llm.options import fallback_from_option, option_bool, option_int
from pasta_llm.prompt import Prompt
from pasta_llm.retry import RetryPolicy

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins


def llm_generator(
    name: str,
    ask: Callable[[Prompt], Any],
    is_transient: Callable[[BaseException], bool],
    *,
    plugins: Plugins,
    max_retries: Any = 4,
    max_repairs: Any = 2,
    fallback: Any = "none",
    prefetch: Any = False,
    retry: RetryPolicy | None = None,
    images: Any = "none",
    image_max_side: Any = 512,
    max_images: Any = 64,
) -> LLMGenerator:
    """An :class:`LLMGenerator` from the shared options (CLI strings accepted): retries,
    repairs, the ``fallback`` generator (built from ``plugins``), ``prefetch``, and which
    earlier images go with the prompt (``images``, ``image_max_side``, ``max_images``)."""
    retry = retry or RetryPolicy()
    retry.max_retries = option_int("max_retries", max_retries)
    return LLMGenerator(
        name, ask, is_transient, retry=retry, max_repairs=option_int("max_repairs", max_repairs),
        fallback=fallback_from_option(fallback, plugins), prefetch=option_bool("prefetch", prefetch),
        images=image_options(images, image_max_side, max_images),
    )
