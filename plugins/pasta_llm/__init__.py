"""Provider-neutral support for LLM candidate generators (a library, not a plugin).

The ``gemini``, ``anthropic`` and ``local-llm`` plugins share it; third-party generator
plugins can use it the same way. A plugin supplies one function, ``ask(prompt) -> answer``
(one request to its provider, the answer as JSON text or an already-decoded object), and a
test ``is_transient(exc)`` for errors worth retrying. :class:`LLMGenerator` does the rest:

- builds the generation prompt from a :class:`~pasta_core.protocols.GenerationRequest`
  (:func:`build_prompt`: the history, the categories, the per-category count, the word limit)
  and the JSON schema of the expected answer (:func:`answer_schema`) - :mod:`pasta_llm.prompt`;
- parses, validates and safely repairs the answer (:func:`parse_answer`), asking again with
  the list of problems when a repair is not safe - :mod:`pasta_llm.parsing`;
- retries 429 / 5xx / timeouts with bounded exponential backoff or the provider's
  ``Retry-After`` (capped), logging each retry at INFO (:class:`RetryPolicy`) -
  :mod:`pasta_llm.retry`;
- sends the images of earlier turns (the ``images`` option: none / chosen / all, scaled to
  ``image_max_side``) as image parts after the text - :mod:`pasta_llm.images`;
- after that raises :class:`~pasta_core.errors.BackendError`, or, with a :class:`Fallback`
  (the ``fallback=template`` option, built by :func:`fallback_from_option` from the plugin
  set the factory receives as ``plugins``), answers with that generator, warns with a
  :class:`GeneratorFallbackWarning` and counts the turn in ``fallbacks`` /
  ``fallback_turns`` - :mod:`pasta_llm.generator`;
- reads the factories' options and API keys - :mod:`pasta_llm.options`, and the options
  every factory shares into an :class:`LLMGenerator` (:func:`llm_generator`) -
  :mod:`pasta_llm.factory`.
"""

from __future__ import annotations

from pasta_llm.factory import llm_generator
from pasta_llm.generator import Fallback, GeneratorFallbackWarning, LLMGenerator
from pasta_llm.images import (
    IMAGE_MODES,
    ImageOptions,
    ImagePart,
    history_image_parts,
    image_options,
)
from pasta_llm.options import (
    FALLBACKS,
    api_key,
    fallback_from_option,
    option_bool,
    option_float,
    option_int,
)
from pasta_llm.parsing import ParsedAnswer, decode_json, not_an_answer, parse_answer, shorten
from pasta_llm.prompt import (
    CATEGORY_GUIDES,
    SYSTEM_INSTRUCTION,
    Prompt,
    answer_schema,
    build_prompt,
)
from pasta_llm.retry import RetryPolicy, retry_after

__all__ = [
    "CATEGORY_GUIDES",
    "FALLBACKS",
    "IMAGE_MODES",
    "ImageOptions",
    "ImagePart",
    "history_image_parts",
    "image_options",
    "llm_generator",
    "not_an_answer",
    "retry_after",
    "SYSTEM_INSTRUCTION",
    "Fallback",
    "GeneratorFallbackWarning",
    "LLMGenerator",
    "ParsedAnswer",
    "Prompt",
    "RetryPolicy",
    "answer_schema",
    "api_key",
    "build_prompt",
    "decode_json",
    "fallback_from_option",
    "option_bool",
    "option_float",
    "option_int",
    "parse_answer",
    "shorten",
]
