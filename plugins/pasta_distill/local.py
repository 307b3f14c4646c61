"""Asking a local distilled model: the compact model of the offline path, or a fine-tuned
chat model (any transformers causal LM with a chat template)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pasta_core.errors import BackendError, require
from pasta_core.types import Candidate
from pasta_distill.codec import Codec, apply_edit
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


class CompactAsk:
    """One slate from the compact model in one forward pass: the next-token scores of the
    learned edits; walking down them, the first edit of a category not taken yet that
    applies to the last chosen prompt within the word limit, until ``size`` categories are
    taken (the best of each of the best categories, best first). With ``temperature`` T > 0
    the scores are divided by T and perturbed by Gumbel noise seeded by the request (a slate
    sampled from the model; 0: the most likely one; a retry samples at T = 1 at least). The
    default, 1, samples as the teacher chose: its slate is the best of a random draw of
    candidates, so the most likely slate is one it rarely shows (on the planted bench the
    most likely slates were worse for the true user, not for the teacher's value model). The
    slate's rules hold by construction; the model chooses everything in it."""

    codec_name = "compact"

    def __init__(self, model: Any, codec: Codec, max_positions: int, temperature: float = 1.0) -> None:
        import numpy as np

        self.model, self.codec, self.max_positions = model, codec, max_positions
        self.temperature = temperature
        self.edit_ids = np.fromiter(codec.edits, dtype=np.int64)

    def scores(self, prompt: SlatePrompt) -> Any:
        """The model's next-token scores after the request's history (one forward pass)."""
        import torch

        ids = self.codec.to_ids(self.codec.history(prompt.request.history, prompt.request.word_limit))
        if len(ids) > self.max_positions:
            raise BackendError(f"the history is {len(ids)} tokens, over the model's {self.max_positions}")
        with torch.inference_mode():
            return self.model(input_ids=torch.tensor([ids]), logits_to_keep=1).logits[0, -1].numpy()

    def slate(self, prompt: SlatePrompt, logits: Any) -> list[Candidate]:
        """The slate the scores ``logits`` give for the request (see the class docstring)."""
        import numpy as np

        request = prompt.request
        base, wanted = request.history.last_prompt, set(request.categories)
        scores = logits[self.edit_ids]
        temperature = max(self.temperature, 1.0) if prompt.attempt else self.temperature
        if temperature:
            scores = scores / temperature + np.random.default_rng(prompt.seed).gumbel(size=scores.shape)
        slate: list[Candidate] = []
        for token in self.edit_ids[np.argsort(-scores, kind="stable")]:
            category, edit = self.codec.edits[int(token)]
            if category not in wanted or any(c.category == category for c in slate):
                continue
            text = apply_edit(edit, base)
            if text and text != base and len(text.split()) <= request.word_limit and \
                    all(c.text != text for c in slate):
                slate.append(Candidate(text, category))
                if len(slate) == request.size:
                    break
        return slate

    def __call__(self, prompt: SlatePrompt) -> str:
        return slate_answer(self.slate(prompt, self.scores(prompt)))


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


def load_local(folder: str, device: str = "cpu", max_new_tokens: int = 512,
               temperature: float = 1.0) -> CompactAsk | ChatAsk:
    """The ask of a distilled model folder (``distill.json`` says which codec)."""
    info = read_info(folder)
    torch = require("torch", "distill")
    transformers = require("transformers", "distill")
    path = str(Path(folder).expanduser())
    model = transformers.AutoModelForCausalLM.from_pretrained(path, local_files_only=True,
                                                              dtype=torch.float32).to(device).eval()
    if info["codec"] == "compact":
        return CompactAsk(model, Codec.load(path),
                          int(getattr(model.config, "n_positions", None) or model.config.max_position_embeddings),
                          temperature)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        raise BackendError(f"the tokenizer in {path} has no chat template")
    return ChatAsk(model, tokenizer, max_new_tokens)
