"""The ``local-llm`` candidate generator: any transformers chat model in a local folder.

A fully offline real LLM: the folder holds a causal LM and its tokenizer with a chat
template (e.g. a downloaded Gemma, Llama, Qwen or Phi instruct model). Each turn is one
sampled generation (nucleus sampling, ``top_p`` 0.9, seeded by the request's seed) whose
text is parsed, validated and repaired like the API generators' answers
(:mod:`pasta_llm`); an unusable answer is asked again with its problems.

Options: ``model`` (the folder, required), ``device`` (auto, cpu, cuda), ``dtype`` (auto:
bf16 on GPU, fp32 on CPU), ``temperature`` (1.0), ``top_p`` (0.9), ``max_new_tokens``
(1024), ``max_repairs`` (2), ``fallback`` (none or template), ``prefetch`` (false).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pasta_core import hookimpl
from pasta_core.errors import BackendError, InvalidValueError, require
from pasta_llm import (
    LLMGenerator,
    Prompt,
    fallback_from_option,
    option_bool,
    option_float,
    option_int,
)

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins

_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """The chat for one prompt; the schema is spelled out since local models lack schema modes."""
    schema = json.dumps(prompt.schema, separators=(",", ":"))
    return [
        {"role": "system", "content": prompt.system},
        {"role": "user", "content": f"{prompt.user}\nThe JSON must follow this schema: {schema}"},
    ]


class LocalAsk:
    """One sampled chat completion from a local transformers model."""

    def __init__(self, model: Any, tokenizer: Any, temperature: float, top_p: float, max_new_tokens: int) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens

    def _input_ids(self, prompt: Prompt) -> Any:
        messages = chat_messages(prompt)
        try:
            encoded = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        except Exception:  # templates without a system role (Gemma): fold it into the user turn
            merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            encoded = self.tokenizer.apply_chat_template(
                merged, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        return encoded["input_ids"].to(self.model.device)

    def __call__(self, prompt: Prompt) -> str:
        import torch

        ids = self._input_ids(prompt)
        pad = self.tokenizer.pad_token_id
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(prompt.seed)
            out = self.model.generate(
                ids, attention_mask=torch.ones_like(ids), do_sample=True, top_p=self.top_p,
                temperature=self.temperature, max_new_tokens=self.max_new_tokens,
                pad_token_id=pad if pad is not None else self.tokenizer.eos_token_id,
            )
        return self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def _never_transient(exc: BaseException) -> bool:
    return False


def _load(folder: str, device: str, dtype: str) -> tuple[Any, Any]:
    torch = require("torch", "causal-lm")
    transformers = require("transformers", "causal-lm")
    path = Path(folder).expanduser()
    if not (path / "config.json").is_file():
        raise BackendError(
            f"{path} is not a transformers model folder (no config.json); download an instruct "
            f"model on a machine with network (huggingface-cli download ORG/MODEL --local-dir "
            f"/models/llm) and pass --generator-option model=/models/llm"
        )
    name = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    kind = dtype if dtype != "auto" else ("bf16" if name.startswith("cuda") else "fp32")
    if kind not in _DTYPES:
        raise InvalidValueError(f"dtype must be one of auto, fp32, fp16, bf16; got {dtype!r}")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        raise BackendError(f"the tokenizer in {path} has no chat template: use an instruct/chat model")
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path), local_files_only=True, dtype=getattr(torch, _DTYPES[kind])
    )
    return model.to(name).eval(), tokenizer


def create(
    model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    temperature: Any = 1.0,
    top_p: Any = 0.9,
    max_new_tokens: Any = 1024,
    max_repairs: Any = 2,
    fallback: str | None = "none",
    prefetch: Any = False,
    *,
    plugins: Plugins,
) -> LLMGenerator:
    """Build the ``local-llm`` generator from a model folder (``plugins``: the set it is created from)."""
    if not model:
        raise InvalidValueError(
            "the local-llm generator needs a model folder: --generator-option model=/path/to/chat-model"
        )
    answer_instead = fallback_from_option(fallback, plugins)
    ask = LocalAsk(
        *_load(str(model), str(device).lower(), str(dtype).lower()),
        temperature=option_float("temperature", temperature, 0.0001, 5.0),
        top_p=option_float("top_p", top_p, 0.0, 1.0),
        max_new_tokens=option_int("max_new_tokens", max_new_tokens, 1),
    )
    return LLMGenerator(
        "local-llm", ask, _never_transient, max_repairs=option_int("max_repairs", max_repairs),
        fallback=answer_instead, prefetch=option_bool("prefetch", prefetch),
    )


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("local-llm", create, "a transformers chat model in a local folder (fully offline)")
