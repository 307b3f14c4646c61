"""Value models: f(h, p), the value of showing candidate p after history h, and V(h).

The paper's slate value decomposes as q(h, P) = mean over p in P of f(h, p), so a value
model only ever scores (history, candidate) pairs. Histories reach text-based models as
:meth:`pasta_core.types.History.render_text` (the paper's Figure 12 layout).

Two protocols:

- :class:`ValueModel` is what the ``value`` selector needs: batched numbers.
- :class:`TrainableValueModel` is what the IQL trainer (:mod:`pasta_core.iql`) needs: a
  torch module plus two functions that read Q and V out of it. The trainer keeps a copy
  of the module as its target network and calls the same functions on it.

:class:`TorchValueModel` implements :class:`ValueModel` on top of the trainable half, so a
plugin writes only ``prepare`` / ``pair_outputs`` / ``history_values`` / ``save``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np

from pasta_core.errors import InvalidValueError
from pasta_core.types import Candidate, History

CONFIG_FILE = "config.json"


@runtime_checkable
class ValueModel(Protocol):
    """Scores candidates: f(h, p) for (history, candidate) pairs and V(h) for histories."""

    #: The registered value-model name that loads this model's checkpoints.
    plugin: str

    def q_values(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> np.ndarray:
        """f(h_i, p_i) for each pair, shape (len(candidates),), in one batched call.

        Contract: ``len(histories) == len(candidates)``; the same pair gives the same number
        whatever else is in the batch (no dependence on padding or batch order).
        """
        ...

    def values(self, histories: Sequence[History]) -> np.ndarray:
        """V(h) for each history, shape (len(histories),)."""
        ...

    def save(self, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        """Write a checkpoint folder: ``config.json`` (with "plugin" and ``extra``) and
        safetensors weights. ``create("value-model", plugin, path=folder)`` loads it."""
        ...


@attrs.frozen
class PairOutputs:
    """What a value model reads for a batch of (history, candidate) pairs (torch tensors).

    ``q``: f(h, p), shape (B,). ``v``: V(h) when the model gets it from the same forward
    pass (the causal LM does), else None. ``token_q`` / ``token_mask``: Q after every prefix
    of the candidate's tokens, shape (B, T), for token-level training; None when the model
    has no tokens.
    """

    q: Any
    v: Any = None
    token_q: Any = None
    token_mask: Any = None


@runtime_checkable
class TrainableValueModel(ValueModel, Protocol):
    """A value model the IQL trainer can fit (see :mod:`pasta_core.iql`)."""

    #: Every trainable parameter lives here; the trainer's target network is a copy of it.
    module: Any
    #: Whether ``pair_outputs(..., token_level=True)`` fills ``token_q`` (causal LMs).
    supports_token_level: bool

    def prepare(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> Any:
        """Precompute inputs (embeddings, token ids) for these unique histories and
        candidates once; later calls index into them."""
        ...

    def pair_outputs(
        self, module: Any, prepared: Any, history_index: Any, candidate_index: Any, token_level: bool = False
    ) -> PairOutputs:
        """Q (and V where free) of pairs (prepared histories[i], prepared candidates[j])
        computed with ``module`` (the online network or its target copy)."""
        ...

    def history_values(self, module: Any, prepared: Any, history_index: Any) -> Any:
        """V(h) of prepared histories, a (B,) tensor computed with ``module``."""
        ...


class TorchValueModel:
    """Inference for trainable value models: chunked, gradient-free, in eval mode."""

    plugin = "?"
    module: Any
    chunk_size = 256

    def prepare(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> Any:
        raise NotImplementedError

    def pair_outputs(self, module: Any, prepared: Any, history_index: Any, candidate_index: Any,
                     token_level: bool = False) -> PairOutputs:
        raise NotImplementedError

    def history_values(self, module: Any, prepared: Any, history_index: Any) -> Any:
        raise NotImplementedError

    def input_key(self) -> Any:
        """Equal keys mean equal ``prepare`` outputs (same encoder and features), so models
        with the same key can share one ``prepare`` (:func:`q_values_of_models`); None
        (the default) shares nothing."""
        return None

    def q_values(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> np.ndarray:
        if len(histories) != len(candidates):
            raise InvalidValueError(f"{len(histories)} histories for {len(candidates)} candidates")
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        unique_h, h_index = _unique(histories)
        unique_c, c_index = _unique(candidates)
        return self.q_values_prepared(self.prepare(unique_h, unique_c), h_index, c_index)

    def q_values_prepared(self, prepared: Any, h_index: np.ndarray, c_index: np.ndarray) -> np.ndarray:
        """f(h, p) of pairs of already prepared histories and candidates (by index)."""
        import torch

        out = []
        with _eval(self.module), torch.no_grad():
            for start in range(0, len(h_index), self.chunk_size):
                part = slice(start, start + self.chunk_size)
                hi = torch.as_tensor(h_index[part])
                ci = torch.as_tensor(c_index[part])
                out.append(self.pair_outputs(self.module, prepared, hi, ci).q.float().cpu())
        return torch.cat(out).numpy()

    def values(self, histories: Sequence[History]) -> np.ndarray:
        import torch

        if not histories:
            return np.zeros(0, dtype=np.float32)
        unique_h, h_index = _unique(histories)
        prepared = self.prepare(unique_h, [])
        out = []
        with _eval(self.module), torch.no_grad():
            for start in range(0, len(histories), self.chunk_size):
                hi = torch.as_tensor(h_index[start : start + self.chunk_size])
                out.append(self.history_values(self.module, prepared, hi).float().cpu())
        return torch.cat(out).numpy()


def q_values_of_models(models: Sequence[Any], histories: Sequence[History],
                       candidates: Sequence[Candidate]) -> np.ndarray:
    """f(h, p) of every pair under every model: (len(models), len(pairs)). Models whose
    :meth:`TorchValueModel.input_key` is equal (and not None) share one ``prepare``."""
    if len(histories) != len(candidates):
        raise InvalidValueError(f"{len(histories)} histories for {len(candidates)} candidates")
    if not models:
        return np.zeros((0, len(candidates)), dtype=np.float32)
    keys = [m.input_key() if isinstance(m, TorchValueModel) else None for m in models]
    if not candidates or keys[0] is None or any(k != keys[0] for k in keys):
        return np.stack([np.asarray(m.q_values(histories, candidates), dtype=np.float32) for m in models])
    unique_h, h_index = _unique(histories)
    unique_c, c_index = _unique(candidates)
    prepared = models[0].prepare(unique_h, unique_c)
    return np.stack([m.q_values_prepared(prepared, h_index, c_index) for m in models])


def _unique(items: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """Distinct items in first-seen order and each item's index among them."""
    positions: dict[Any, int] = {}
    index = np.empty(len(items), dtype=np.int64)
    for i, item in enumerate(items):
        index[i] = positions.setdefault(item, len(positions))
    return list(positions), index


class _eval:
    """Context manager: eval mode inside, the previous mode restored after."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.was_training = self.module.training
        self.module.eval()

    def __exit__(self, *exc: Any) -> None:
        self.module.train(self.was_training)


def read_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config.json`` of a value-model checkpoint folder."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise InvalidValueError(
            f"{folder} is not a value-model checkpoint (no {CONFIG_FILE}); "
            "train one with: pasta value train --data PATH --out DIR"
        )
    config = json.loads(path.read_text())
    if not isinstance(config, dict) or "plugin" not in config:
        raise InvalidValueError(f"{path} has no 'plugin' key naming the value model that loads it")
    return config


def write_config(folder: str | os.PathLike[str], config: dict[str, Any]) -> Path:
    """Write ``config.json`` atomically."""
    path = Path(folder) / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def load_value_model(folder: str | os.PathLike[str], **options: Any) -> ValueModel:
    """Load a value-model checkpoint with the plugin named in its ``config.json``."""
    from pasta_core.plugins import get_plugins

    plugin = read_config(folder)["plugin"]
    return get_plugins().create("value-model", plugin, path=str(folder), **options)
