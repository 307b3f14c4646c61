"""The ``gemini`` candidate generator on Google's google-genai SDK.

One ``generateContent`` request per turn, with structured output (``responseMimeType``
application/json and a ``responseJsonSchema`` of 5 categories x 5 prompts), nucleus sampling
(``topP`` 0.9) and the request's seed. The key comes from ``GEMINI_API_KEY`` or
``GOOGLE_API_KEY``, never from options or files. Options (``--generator-option key=value``):

- ``model`` (default ``gemini-2.5-flash``), ``temperature`` (1.0), ``top_p`` (0.9),
  ``max_output_tokens`` (the model's default when not set);
- ``max_retries`` (4) for 429 / 5xx / timeouts, with bounded exponential backoff;
  ``max_repairs`` (2): how often an unusable answer is asked again;
- ``timeout`` in seconds (60), ``base_url`` (a proxy or a stub server);
- ``fallback``: ``none`` (default: a clear error) or ``template`` (offline answers for the
  failed turn, with a visible warning);
- ``prefetch`` (false): let interactive sessions ask ahead for every possible click (hides
  latency, costs one request per column instead of one per turn);
- ``images``: which earlier images go with the prompt as inline image parts: ``chosen``
  (default, the paper's setting: the chosen column of every earlier turn), ``all`` or
  ``none``; ``image_max_side`` (512): their longest side in pixels; ``max_images`` (64):
  the most a request carries (whole turns, the latest first).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pasta_core import hookimpl
from pasta_core.errors import InvalidValueError, require
from pasta_llm import (
    LLMGenerator,
    Prompt,
    RetryPolicy,
    api_key,
    llm_generator,
    not_an_answer,
    option_float,
    option_int,
)

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins

DEFAULT_MODEL = "gemini-2.5-flash"
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_TRANSIENT_STATUS = {408, 429}


def is_transient(exc: BaseException) -> bool:
    """Rate limits, server errors and timeouts are worth retrying; other errors are not."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and (code in _TRANSIENT_STATUS or 500 <= code < 600):
        return True
    httpx2 = _httpx_module()
    return httpx2 is not None and isinstance(exc, (httpx2.TimeoutException, httpx2.TransportError))


def _httpx_module() -> Any:
    try:
        import httpx2
    except ImportError:  # pragma: no cover - google-genai depends on it
        return None
    return httpx2


class GeminiAsk:
    """Sends one prompt to Gemini and returns the answer's JSON text."""

    def __init__(self, client: Any, model: str, temperature: float, top_p: float, max_output_tokens: int | None) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.top_p = top_p
        self.max_output_tokens = max_output_tokens

    def __call__(self, prompt: Prompt) -> Any:
        from google.genai import types

        config = types.GenerateContentConfig(
            system_instruction=prompt.system,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=prompt.seed,
            candidate_count=1,
            max_output_tokens=self.max_output_tokens,
            response_mime_type="application/json",
            response_json_schema=prompt.schema,
        )
        try:
            response = self.client.models.generate_content(model=self.model, contents=contents(prompt), config=config)
        except json.JSONDecodeError:
            raise not_an_answer("gemini") from None  # the SDK decodes every answer as JSON
        return response.text or ""


def contents(prompt: Prompt) -> Any:
    """The prompt's text, then each earlier image after its caption, as Gemini parts."""
    from google.genai import types

    if not prompt.images:
        return prompt.user
    parts = [types.Part.from_text(text=prompt.user)]
    for image in prompt.images:
        parts += [types.Part.from_text(text=image.caption), types.Part.from_bytes(data=image.data, mime_type=image.mime)]
    return parts


def make_client(timeout: float, base_url: str | None, http_client: Any = None) -> Any:
    """A google-genai client with the SDK's own retries off (``LLMGenerator`` retries)."""
    genai = require("google.genai", "gemini", "google-genai")
    from google.genai import types

    options: dict[str, Any] = {"timeout": int(timeout * 1000)}
    if base_url:
        options["base_url"] = base_url
    if http_client is not None:
        options["httpx_client"] = http_client
    return genai.Client(api_key=api_key(KEY_VARIABLES, "Gemini", "gemini"), http_options=types.HttpOptions(**options))


def create(
    model: str = DEFAULT_MODEL,
    temperature: Any = 1.0,
    top_p: Any = 0.9,
    max_output_tokens: Any = None,
    max_retries: Any = 4,
    max_repairs: Any = 2,
    timeout: Any = 60.0,
    base_url: str | None = None,
    fallback: str | None = "none",
    prefetch: Any = False,
    images: Any = "chosen",
    image_max_side: Any = 512,
    max_images: Any = 64,
    http_client: Any = None,
    retry: RetryPolicy | None = None,
    *,
    plugins: Plugins,
) -> LLMGenerator:
    """Build the ``gemini`` generator.

    ``plugins`` is the set it is created from (``Plugins.create`` passes it; the ``template``
    fallback comes from it); ``http_client`` and ``retry`` are for Python callers and tests."""
    if not str(model).strip():
        raise InvalidValueError("option model must name a Gemini model, e.g. gemini-2.5-flash")
    client = make_client(option_float("timeout", timeout, 0.001), base_url, http_client)
    ask = GeminiAsk(
        client,
        str(model),
        option_float("temperature", temperature, 0.0, 2.0),
        option_float("top_p", top_p, 0.0, 1.0),
        None if max_output_tokens in (None, "") else option_int("max_output_tokens", max_output_tokens, 1),
    )
    return llm_generator(
        "gemini", ask, is_transient, plugins=plugins, max_retries=max_retries, max_repairs=max_repairs,
        fallback=fallback, prefetch=prefetch, retry=retry, images=images, image_max_side=image_max_side,
        max_images=max_images,
    )


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("gemini", create, "Google Gemini via google-genai (GEMINI_API_KEY), JSON-schema output")
