"""The ``anthropic`` candidate generator on Anthropic's Messages API.

One ``messages.create`` request per turn; the answer comes back as the input of a forced
tool call (``tool_choice`` names the one tool, whose ``input_schema`` is 5 categories x 5
prompts), which is Anthropic's way of structured output. The key comes from
``ANTHROPIC_API_KEY``, never from options or files. Options (``--generator-option key=value``):

- ``model`` (default ``claude-haiku-5-5``, a fast model as the paper used Gemini Flash), ``max_tokens`` (4096);
- ``temperature`` and ``top_p``: not sent unless set (the current SDK's ``create`` has no
  sampling arguments and newer models fix them; set ``top_p=0.9`` for models that accept it);
- ``max_retries`` (4) for 429 / 5xx / 529 / timeouts, with bounded exponential backoff;
  ``max_repairs`` (2): how often an unusable answer is asked again;
- ``timeout`` in seconds (60), ``base_url`` (a proxy or a stub server);
- ``fallback``: ``none`` (default: a clear error) or ``template`` (offline answers for the
  failed turn, with a visible warning);
- ``prefetch`` (false): let interactive sessions ask ahead for every possible click (hides
  latency, costs one request per column instead of one per turn);
- ``images``: which earlier images go with the prompt as base64 image blocks: ``chosen``
  (default, the paper's setting: the chosen column of every earlier turn), ``all`` or
  ``none``; ``image_max_side`` (512): their longest side in pixels; ``max_images`` (64):
  the most a request carries (whole turns, the latest first).
"""

from __future__ import annotations

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
    option_int,
)

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins

DEFAULT_MODEL = "claude-haiku-5-5"
KEY_VARIABLES = ("ANTHROPIC_API_KEY",)
TOOL_NAME = "propose_prompt_expansions"
_TRANSIENT_STATUS = {408, 409, 429}


def is_transient(exc: BaseException) -> bool:
    """Rate limits, overload (529), server errors, timeouts and dropped connections."""
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in _TRANSIENT_STATUS or status >= 500)


class AnthropicAsk:
    """Sends one prompt as a forced tool call and returns the tool's input (decoded JSON)."""

    def __init__(self, client: Any, model: str, max_tokens: int, sampling: dict[str, float]) -> None:
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.sampling = sampling

    def __call__(self, prompt: Prompt) -> Any:
        tool = {
            "name": TOOL_NAME,
            "description": "Propose the prompt expansions, grouped by category.",
            "input_schema": prompt.schema,
        }
        message = self.client.messages.create(
            model=self.model,
            max_tokens=self.max_tokens,
            system=prompt.system,
            messages=[{"role": "user", "content": content(prompt)}],
            tools=[tool],
            tool_choice={"type": "tool", "name": TOOL_NAME},
            extra_body=self.sampling or None,
        )
        if isinstance(message, (str, bytes)) or not hasattr(message, "content"):
            raise not_an_answer("anthropic", message)  # the SDK hands back a page that is not JSON as text
        for block in message.content:
            if getattr(block, "type", None) == "tool_use" and block.name == TOOL_NAME:
                return block.input
        texts = [getattr(b, "text", "") for b in message.content]
        if any(texts):  # a model that ignored the tool: its text may still hold the JSON
            return "\n".join(texts)
        raise BackendError(f"anthropic answered without the {TOOL_NAME} tool call (stop: {message.stop_reason})")


def content(prompt: Prompt) -> Any:
    """The prompt's text, then each earlier image after its caption, as Messages API blocks."""
    if not prompt.images:
        return prompt.user
    blocks: list[dict[str, Any]] = [{"type": "text", "text": prompt.user}]
    for image in prompt.images:
        blocks.append({"type": "text", "text": image.caption})
        blocks.append({"type": "image", "source": {"type": "base64", "media_type": image.mime, "data": image.base64}})
    return blocks


def make_client(timeout: float, base_url: str | None, http_client: Any = None) -> Any:
    """An Anthropic client with the SDK's own retries off (``LLMGenerator`` retries)."""
    anthropic = require("anthropic", "anthropic")
    options: dict[str, Any] = {"max_retries": 0, "timeout": timeout}
    if base_url:
        options["base_url"] = base_url
    if http_client is not None:
        options["http_client"] = http_client
    return anthropic.Anthropic(api_key=api_key(KEY_VARIABLES, "Anthropic", "anthropic"), **options)


def _sampling(temperature: Any, top_p: Any) -> dict[str, float]:
    sampling = {}
    if temperature not in (None, ""):
        sampling["temperature"] = option_float("temperature", temperature, 0.0, 1.0)
    if top_p not in (None, ""):
        sampling["top_p"] = option_float("top_p", top_p, 0.0, 1.0)
    return sampling


def create(
    model: str = DEFAULT_MODEL,
    max_tokens: Any = 4096,
    temperature: Any = None,
    top_p: Any = None,
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
    """Build the ``anthropic`` generator.

    ``plugins`` is the set it is created from (``Plugins.create`` passes it; the ``template``
    fallback comes from it); ``http_client`` and ``retry`` are for Python callers and tests."""
    if not str(model).strip():
        raise InvalidValueError("option model must name a Claude model, e.g. claude-haiku-5-5")
    client = make_client(option_float("timeout", timeout, 0.001), base_url, http_client)
    ask = AnthropicAsk(client, str(model), option_int("max_tokens", max_tokens, 1), _sampling(temperature, top_p))
    return llm_generator(
        "anthropic", ask, is_transient, plugins=plugins, max_retries=max_retries, max_repairs=max_repairs,
        fallback=fallback, prefetch=prefetch, retry=retry, images=images, image_max_side=image_max_side,
        max_images=max_images,
    )


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("anthropic", create, "Anthropic Claude (ANTHROPIC_API_KEY), tool use for structured output")
