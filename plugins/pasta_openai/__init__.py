"""The ``openai`` candidate generator on the OpenAI chat completions API.

The one API that OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio and most hosted open
models serve, through the official ``openai`` SDK. One ``chat.completions.create`` request
per turn. The key comes from ``OPENAI_API_KEY``, never from options or files; a server at
a ``base_url`` of your own (a local vLLM, Ollama or llama.cpp) needs none. Options
(``--generator-option key=value``; docs/llm-servers.md has recipes):

- ``base_url``: the server (default: OpenAI's, or the SDK's ``OPENAI_BASE_URL``), e.g.
  ``http://127.0.0.1:8000/v1`` (vLLM), ``http://127.0.0.1:11434/v1`` (Ollama),
  ``http://127.0.0.1:8080/v1`` (llama.cpp);
- ``model``: the served model's name (default ``gpt-5.4-mini`` on OpenAI's API; required
  with a ``base_url``);
- ``response_format``: ``auto`` (default: a JSON schema, and plain JSON, repaired, from
  the first time the server refuses the schema with a 400), ``json_schema``,
  ``json_object`` or ``none`` (plain JSON asked for in the prompt only);
- ``temperature``, ``top_p``, ``max_tokens``: sent only when set (OpenAI's reasoning
  models refuse sampling settings; set ``top_p=0.9``, the paper's nucleus sampling, for
  servers and models that take it);
- ``max_retries`` (4) for 408 / 409 / 429 / 5xx / timeouts, honouring ``Retry-After``;
  ``max_repairs`` (2); ``timeout`` in seconds (60);
- ``fallback``: ``none`` (default: a clear error) or ``template``;
- ``prefetch`` (false);
- ``images``: earlier images as ``image_url`` parts (data URLs): ``chosen`` (default),
  ``all`` or ``none`` (for text-only models); ``image_max_side`` (512); ``max_images``
  (64: whole turns, the latest first).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from pasta_core import hookimpl
from pasta_core.errors import BackendError, InvalidValueError, require
from pasta_llm import (
    LLMGenerator,
    Prompt,
    RetryPolicy,
    api_key,
    llm_generator,
    not_an_answer,
    option_float,
)

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins

DEFAULT_MODEL = "gpt-5.4-mini"
KEY_VARIABLES = ("OPENAI_API_KEY",)
RESPONSE_FORMATS = ("auto", "json_schema", "json_object", "none")
SCHEMA_NAME = "prompt_expansions"
_TRANSIENT_STATUS = {408, 409, 429}


def is_transient(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts and dropped connections."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in _TRANSIENT_STATUS or status >= 500)


def messages(prompt: Prompt) -> list[dict[str, Any]]:
    """The system and user messages; earlier images follow the text as ``image_url`` parts."""
    content: Any = prompt.user
    if prompt.images:
        content = [{"type": "text", "text": prompt.user}]
        for image in prompt.images:
            content.append({"type": "text", "text": image.caption})
            content.append({"type": "image_url", "image_url": {"url": image.data_url}})
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": content}]


def response_format(kind: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The ``response_format`` field for ``kind`` (None: not sent)."""
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": schema}}
    if kind == "json_object":
        return {"type": "json_object"}
    return None


class OpenAIAsk:
    """Sends one prompt as a chat completion and returns the answer's text.

    With ``response_format=auto`` the first 400 answer to a request with a JSON schema
    switches this generator to plain JSON for good (servers without structured output);
    the request is then sent again at once."""

    def __init__(self, client: Any, model: str, kind: str, sampling: dict[str, Any]) -> None:
        self.client = client
        self.model = model
        self.auto = kind == "auto"
        self.kind = "json_schema" if self.auto else kind
        self.sampling = sampling
        self._lock = threading.Lock()

    def __call__(self, prompt: Prompt) -> Any:
        import openai

        kind = self.kind
        try:
            return self._create(prompt, kind)
        except openai.BadRequestError as exc:
            if not (self.auto and kind == "json_schema"):
                raise refused(exc, prompt) from exc
        with self._lock:
            self.kind = "none"
        try:
            return self._create(prompt, "none")
        except openai.BadRequestError as exc:
            raise refused(exc, prompt) from exc

    def _create(self, prompt: Prompt, kind: str) -> Any:
        fields: dict[str, Any] = dict(self.sampling)
        shape = response_format(kind, prompt.schema)
        if shape is not None:
            fields["response_format"] = shape
        completion = self.client.chat.completions.create(
            model=self.model, messages=messages(prompt), seed=prompt.seed, **fields
        )
        return answer_text(completion)


def refused(exc: Any, prompt: Prompt) -> BackendError:
    """A 400 answer as a one-line error, with the likely fix when images were sent."""
    body = getattr(exc, "body", None)
    body = body.get("error", body) if isinstance(body, dict) else body
    said = body.get("message") if isinstance(body, dict) else None
    message = " ".join(str(said or getattr(exc, "message", exc)).split())[:160]
    hint = "; if the model takes no images, set --generator-option images=none" if prompt.images else ""
    return BackendError(f"openai: the server refused the request (400: {message}){hint}")


def answer_text(completion: Any) -> str:
    """The text of a completion; a page that is not a completion (an HTML error page, a
    proxy's answer) or a refusal is a one-line :class:`BackendError`."""
    if isinstance(completion, (str, bytes)):
        raise not_an_answer("openai", completion)  # the SDK hands back a page that is not JSON as text
    choices = getattr(completion, "choices", None)
    if not choices:
        raise BackendError("openai: the server's answer has no choices; is base_url the API's /v1 address?")
    message = choices[0].message
    if getattr(message, "refusal", None):
        raise BackendError(f"openai: the model refused: {message.refusal[:120]}")
    return message.content or ""


def make_client(timeout: float, base_url: str | None, http_client: Any = None) -> Any:
    """An OpenAI client with the SDK's own retries off (``LLMGenerator`` retries, logging
    each). A ``base_url`` server of your own needs no key."""
    openai = require("openai", "openai")
    options: dict[str, Any] = {"max_retries": 0, "timeout": timeout}
    if base_url:
        options["base_url"] = base_url
    if http_client is not None:
        options["http_client"] = http_client
    own_server = bool(base_url or os.environ.get("OPENAI_BASE_URL", "").strip())
    if own_server and not os.environ.get(KEY_VARIABLES[0], "").strip():
        key = "none"  # the SDK wants a key; local servers ignore it
    else:
        key = api_key(KEY_VARIABLES, "OpenAI", "openai")
    return openai.OpenAI(api_key=key, **options)


def _sampling(temperature: Any, top_p: Any, max_tokens: Any) -> dict[str, Any]:
    sampling: dict[str, Any] = {}
    if temperature not in (None, ""):
        sampling["temperature"] = option_float("temperature", temperature, 0.0, 2.0)
    if top_p not in (None, ""):
        sampling["top_p"] = option_float("top_p", top_p, 0.0, 1.0)
    if max_tokens not in (None, ""):
        sampling["max_tokens"] = int(option_float("max_tokens", max_tokens, 1))
    return sampling


def _model(model: Any, base_url: str | None) -> str:
    if model not in (None, "") and str(model).strip():
        return str(model).strip()
    if base_url:
        raise InvalidValueError(
            "option model must name the model the server at base_url serves "
            "(e.g. model=Qwen/Qwen2.5-VL-7B-Instruct for vLLM, model=gemma3 for Ollama; GET <base_url>/models lists them)"
        )
    return DEFAULT_MODEL


def create(
    model: Any = None,
    base_url: str | None = None,
    response_format: str = "auto",
    temperature: Any = None,
    top_p: Any = None,
    max_tokens: Any = None,
    max_retries: Any = 4,
    max_repairs: Any = 2,
    timeout: Any = 60.0,
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
    """Build the ``openai`` generator.

    ``plugins`` is the set it is created from (``Plugins.create`` passes it; the ``template``
    fallback comes from it); ``http_client`` and ``retry`` are for Python callers and tests."""
    name = _model(model, base_url)
    kind = str(response_format).strip().lower()
    if kind not in RESPONSE_FORMATS:
        raise InvalidValueError(f"option response_format must be one of {', '.join(RESPONSE_FORMATS)}; got {response_format!r}")
    sampling = _sampling(temperature, top_p, max_tokens)
    client = make_client(option_float("timeout", timeout, 0.001), base_url, http_client)
    return llm_generator(
        "openai", OpenAIAsk(client, name, kind, sampling), is_transient, plugins=plugins, max_retries=max_retries,
        max_repairs=max_repairs, fallback=fallback, prefetch=prefetch, retry=retry, images=images,
        image_max_side=image_max_side, max_images=max_images,
    )


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("openai", create, "any OpenAI-compatible chat API (OpenAI, vLLM, Ollama, llama.cpp; OPENAI_API_KEY or none)")
