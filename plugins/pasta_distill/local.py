"""Asking a local distilled model: the compact model of the offline path, or a fine-tuned
chat model (any transformers causal LM with a chat template)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pasta_core.errors import BackendError, require
from pasta_core.types import Candidate
from pasta_distill.codec import Codec, expand
from pasta_distill.prompt import SlatePrompt, slate_answer

#: The file a distilled model folder holds beside its weights.
INFO_FILE = "distill.json"


def read_info(folder: str | Path) -> dict[str, Any]:
    """The ``distill.json`` of a model folder written by ``pasta distill train``."""
    path = Path(folder).expanduser() / INFO_FILE
    if not path.is_file():
        raise BackendError(f"{Path(folder)} is not a distilled model folder (no {INFO_FILE}); "
                           f"train one with `pasta distill train`")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackendError(f"{path} is not JSON: {exc}") from None
    if not isinstance(info, dict) or info.get("codec") not in ("compact", "chat"):
        raise BackendError(f"{path} names no known codec (compact or chat)")
    return info


def _pick(logits: Any, allowed: list[int], attempt: int, generator: Any) -> int:
    """The allowed token the model prefers (a first ask), or one sampled from it (a retry)."""
    import torch

    scores = logits[allowed]
    if attempt == 0:
        return allowed[int(torch.argmax(scores))]
    return allowed[int(torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator))]


class CompactAsk:
    """One slate from the compact model: L pattern tokens, each of a category not used yet
    and within the word limit (the slate's rules are enforced while decoding, so every
    answer is a well-formed slate; the model chooses everything in it)."""

    codec_name = "compact"

    def __init__(self, model: Any, codec: Codec, max_positions: int) -> None:
        self.model, self.codec, self.max_positions = model, codec, max_positions

    def _options(self, prompt: SlatePrompt) -> dict[int, Candidate]:
        """Token -> the candidate it writes, for every pattern that fits the request."""
        request = prompt.request
        base, intent = request.history.last_prompt, request.history.initial_prompt
        options = {}
        for category in request.categories:
            for token, pattern in self.codec.patterns.get(category, ()):
                text = expand(pattern, base, intent)
                if len(text.split()) <= request.word_limit and text != base:
                    options[token] = Candidate(text, category)
        return options

    def _step(self, token: int, past: Any) -> tuple[Any, Any]:
        import torch

        out = self.model(input_ids=torch.tensor([[token]]), cache=past, use_cache=True)
        return out.logits[0, -1], out.cache

    def __call__(self, prompt: SlatePrompt) -> str:
        import torch

        ids = self.codec.to_ids(self.codec.history(prompt.request.history, prompt.request.word_limit))
        if len(ids) + prompt.request.size > self.max_positions:
            raise BackendError(f"the history is {len(ids)} tokens, over the model's {self.max_positions}")
        options = self._options(prompt)
        generator = torch.Generator().manual_seed(prompt.seed)
        slate: list[Candidate] = []
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids]), use_cache=True)
            logits, past = out.logits[0, -1], out.cache
            while len(slate) < prompt.request.size:
                used = {c.category for c in slate}
                allowed = [t for t, c in options.items() if c.category not in used]
                if not allowed:
                    break
                token = _pick(logits, allowed, prompt.attempt, generator)
                slate.append(options[token])
                if len(slate) < prompt.request.size:
                    logits, past = self._step(token, past)
        return slate_answer(slate)


class ChatAsk:
    """One answer from a fine-tuned chat model: greedy on the first ask (the teacher's
    slate is a function of the history), sampled (seeded) when asked again."""

    codec_name = "chat"

    def __init__(self, model: Any, tokenizer: Any, max_new_tokens: int) -> None:
        self.model, self.tokenizer, self.max_new_tokens = model, tokenizer, max_new_tokens

    def __call__(self, prompt: SlatePrompt) -> str:
        import torch

        ids = chat_prompt_ids(self.tokenizer, prompt.system, prompt.user)
        ids_t = torch.tensor([ids], device=self.model.device)
        pad = self.tokenizer.pad_token_id
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(prompt.seed)
            out = self.model.generate(ids_t, attention_mask=torch.ones_like(ids_t), do_sample=prompt.attempt > 0,
                                      max_new_tokens=self.max_new_tokens,
                                      pad_token_id=pad if pad is not None else self.tokenizer.eos_token_id)
        return self.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)


def chat_prompt_ids(tokenizer: Any, system: str, user: str) -> list[int]:
    """The token ids of a chat with ``system`` and ``user`` messages, ready for the answer
    (a template without a system role gets it folded into the user turn)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    except Exception:  # e.g. Gemma's template refuses a system role
        merged = [{"role": "user", "content": f"{system}\n\n{user}"}]
        encoded = tokenizer.apply_chat_template(merged, add_generation_prompt=True, tokenize=True, return_dict=True)
    ids = encoded["input_ids"]
    return list(ids[0] if ids and isinstance(ids[0], list) else ids)


def load_local(folder: str, device: str = "cpu", max_new_tokens: int = 512) -> CompactAsk | ChatAsk:
    """The ask of a distilled model folder (``distill.json`` says which codec)."""
    info = read_info(folder)
    torch = require("torch", "distill")
    transformers = require("transformers", "distill")
    path = str(Path(folder).expanduser())
    model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True,
                                                              dtype=torch.float32).to(device).eval()
    if info["codec"] == "compact":
        return CompactAsk(model, Codec.load(path),
                          int(getattr(model.config, "n_positions", None) or model.config.max_position_embeddings))
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        raise BackendError(f"the tokenizer in {path} has no chat template")
    return ChatAsk(model, tokenizer, max_new_tokens)
