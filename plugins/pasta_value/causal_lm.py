"""The ``causal-lm`` value model: any transformers causal LM from a local folder (the
paper uses Gemma 2B). The text is the history's Figure-12 rendering, then the candidate:

    <bos>Initial prompt: ... Turn 1 slate: ... Turn 1 chosen: ...\\nCandidate: <prompt>

Q(h, p) is one chosen vocabulary logit at the last position; V(h) another logit read at
the last token of the history part ("Candidate:"). The two parts are tokenized
separately and concatenated, so with causal attention V(h) from a (h, p) sequence equals
V(h) of the history alone: one forward pass gives Q and V, and Q after every prefix of
the candidate's tokens (token-level IQL) comes for free. Sequences are left-padded with
position ids from the attention mask, so a pair's value does not depend on its batch.
Only the two chosen rows of the output embedding are applied (Gemma's 256k-word
vocabulary is never materialized).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pasta_checkpoints import replace_folder
from pasta_core.errors import InvalidValueError, require
from pasta_core.types import Candidate, History
from pasta_value.torch_model import (
    CONFIG_FILE,
    PairOutputs,
    TorchValueModel,
    read_config,
    write_config,
)

PLUGIN = "causal-lm"
LM_DIR = "lm"
SEPARATOR = "\nCandidate:"
DTYPES = ("float32", "bfloat16", "float16")


@attrs.frozen
class Prepared:
    histories: list[list[int]]
    candidates: list[list[int]]


def _token_id(tokenizer: Any, text: str | None, token_id: Any, fallback: int) -> int:
    if token_id not in (None, ""):
        return int(token_id)
    if text:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
            return int(ids[0])
    return fallback


def _load_lm(transformers: Any, folder: Path, dtype: Any) -> tuple[Any, Any]:
    """The tokenizer and the causal LM of a local model folder, checked: every safetensors
    file's header is read first and every weight must be finite, so a truncated, corrupt or
    diverged model is refused naming its folder (or file)."""
    from pasta_checkpoints import CheckpointError, check_finite, read_header

    for weights in sorted(folder.glob("*.safetensors")):
        read_header(weights)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
        module = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{folder} could not be loaded as a transformers causal LM "
                              f"({' '.join(str(exc).split())[:300]}); check or replace the model folder") from exc
    check_finite(folder, dict(module.state_dict()))
    return tokenizer, module


class CausalLMValueModel(TorchValueModel):
    """Q and V as two vocabulary logits of a causal LM."""

    plugin = PLUGIN
    supports_token_level = True
    chunk_size = 64

    def __init__(self, lm_folder: str | Path, q_token: str | None = "Q", v_token: str | None = "V",
                 q_token_id: Any = None, v_token_id: Any = None, max_length: int = 1024,
                 device: str = "cpu", dtype: str = "float32") -> None:
        torch = require("torch", "causal-lm")
        transformers = require("transformers", "causal-lm")
        if dtype not in DTYPES:
            raise InvalidValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        transformers.utils.logging.disable_progress_bar()
        lm_folder = Path(lm_folder)
        if not (lm_folder / "config.json").is_file():
            raise InvalidValueError(f"{lm_folder} holds no transformers model (no config.json); give a local model folder")
        self.tokenizer, self.module = _load_lm(transformers, lm_folder, getattr(torch, dtype))
        self.module.to(device)
        vocab = self.module.get_output_embeddings().weight.shape[0]
        self.q_id = _token_id(self.tokenizer, q_token, q_token_id, vocab - 1)
        self.v_id = _token_id(self.tokenizer, v_token, v_token_id, vocab - 2)
        if self.q_id == self.v_id or not (0 <= self.q_id < vocab and 0 <= self.v_id < vocab):
            raise InvalidValueError(f"Q and V need two distinct token ids below {vocab}, got {self.q_id}, {self.v_id}")
        self.max_length = int(max_length)
        self.device, self.dtype = device, dtype
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self._cache: dict[str, list[int]] = {}

    # ----- inputs ------------------------------------------------------------------------
    def _tokens(self, texts: Sequence[str], history: bool) -> list[list[int]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            ids = self.tokenizer(missing, add_special_tokens=False)["input_ids"]
            bos = self.tokenizer.bos_token_id
            for text, row in zip(missing, ids):
                self._cache[text] = ([bos] if history and bos is not None else []) + list(row)
        if len(self._cache) > 100_000:
            self._cache.clear()
        return [self._cache[t] for t in texts]

    def prepare(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> Prepared:
        h = self._tokens([x.render_text() + SEPARATOR for x in histories], history=True)
        c = self._tokens([" " + x.text for x in candidates], history=False)
        return Prepared(h, c)

    def _fit(self, history: list[int], candidate: list[int]) -> list[int]:
        """Keep the newest turns when too long: drop history tokens after the first one."""
        extra = len(history) + len(candidate) - self.max_length
        if extra > 0:
            history = history[:1] + history[1 + extra :]
        return history + candidate

    def _batch(self, rows: list[list[int]]) -> tuple[Any, Any, Any]:
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row) :] = torch.as_tensor(row)
            mask[i, width - len(row) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp_min(0)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    # ----- outputs -----------------------------------------------------------------------
    def _hidden(self, module: Any, rows: list[list[int]]) -> Any:
        ids, mask, positions = self._batch(rows)
        out = module.base_model(input_ids=ids, attention_mask=mask, position_ids=positions)
        return out.last_hidden_state

    def _logit(self, module: Any, hidden: Any, token: int) -> Any:
        head = module.get_output_embeddings()
        value = hidden @ head.weight[token]
        if getattr(head, "bias", None) is not None:
            value = value + head.bias[token]
        cap = getattr(module.config, "final_logit_softcapping", None)
        return cap * (value / cap).tanh() if cap else value

    def pair_outputs(self, module: Any, prepared: Prepared, history_index: Any, candidate_index: Any,
                     token_level: bool = False) -> PairOutputs:
        import torch

        cands = [prepared.candidates[int(j)] for j in candidate_index]
        rows = [self._fit(prepared.histories[int(i)], c) for i, c in zip(history_index, cands)]
        hidden = self._hidden(module, rows)
        batch, width = hidden.shape[:2]
        lengths = torch.as_tensor([len(c) for c in cands], device=hidden.device)
        q = self._logit(module, hidden[:, -1], self.q_id)
        v = self._logit(module, hidden[torch.arange(batch, device=hidden.device), width - 1 - lengths], self.v_id)
        if not token_level:
            return PairOutputs(q=q, v=v)
        span = int(lengths.max())
        token_q = self._logit(module, hidden[:, width - span :], self.q_id)
        mask = torch.arange(span, device=hidden.device)[None, :] >= (span - lengths)[:, None]
        return PairOutputs(q=q, v=v, token_q=token_q, token_mask=mask)

    def history_values(self, module: Any, prepared: Prepared, history_index: Any) -> Any:
        rows = [self._fit(prepared.histories[int(i)], []) for i in history_index]
        return self._logit(module, self._hidden(module, rows)[:, -1], self.v_id)

    # ----- checkpoints -------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {"q_token_id": self.q_id, "v_token_id": self.v_id, "max_length": self.max_length,
                "dtype": self.dtype, "lm": LM_DIR}

    def save(self, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        folder = Path(folder)
        tmp, final = folder / f".{LM_DIR}.tmp", folder / LM_DIR
        shutil.rmtree(tmp, ignore_errors=True)
        self.module.save_pretrained(str(tmp))
        self.tokenizer.save_pretrained(str(tmp))
        replace_folder(tmp, final)
        write_config(folder, {"plugin": PLUGIN, **self.settings(), **(extra or {})})
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str], device: str = "cpu") -> CausalLMValueModel:
        """The model saved in ``folder`` (:func:`create_causal_lm` with ``path``)."""
        return create_causal_lm(str(folder), device=device)


def create_causal_lm(path: str | None = None, device: str = "cpu", **options: Any) -> CausalLMValueModel:
    """Factory. ``path``: a value-model checkpoint (config.json with "plugin": "causal-lm")
    or a plain transformers model folder (fresh Q/V heads: the chosen logits). Options:
    q_token / v_token (texts) or q_token_id / v_token_id, max_length, dtype."""
    if not path:
        raise InvalidValueError("causal-lm needs path=FOLDER: a local transformers causal LM (e.g. Gemma 2B)")
    from pasta_checkpoints import CheckpointError, check_fields, read_json_config

    folder = Path(path)
    config_file = folder / CONFIG_FILE
    if config_file.is_file() and "plugin" in read_json_config(config_file, "causal-lm checkpoint"):
        saved = read_config(folder)
        if saved["plugin"] != PLUGIN:
            raise InvalidValueError(f"{folder} holds a {saved['plugin']!r} value model, not {PLUGIN!r}")
        check_fields(config_file, saved, SETTINGS_FIELDS)
        lm = saved.get("lm", LM_DIR)
        if Path(lm).name != lm:
            raise CheckpointError(f"{config_file}: 'lm' must name a folder inside {folder}, got {lm!r}")
        keep: dict[str, Any] = {k: saved[k] for k in ("q_token_id", "v_token_id", "max_length", "dtype") if k in saved}
        keep.update(options)
        return CausalLMValueModel(folder / lm, device=device, **keep)
    return CausalLMValueModel(folder, device=device, **options)


#: The kinds of the settings in a checkpoint's ``config.json`` (:func:`pasta_checkpoints.check_fields`).
SETTINGS_FIELDS = {"q_token_id": "int>=0", "v_token_id": "int>=0", "max_length": "int>0", "dtype": "str", "lm": "str"}
