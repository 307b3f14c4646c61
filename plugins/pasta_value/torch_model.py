"""The base of the torch value models (the protocols ``ValueModel`` and
``TrainableValueModel`` are in :mod:`pasta_core.protocols`).

:class:`TorchValueModel` implements ``ValueModel`` on top of the trainable half, so a
plugin writes only ``prepare`` / ``pair_outputs`` / ``history_values`` / ``save``;
``config.json`` is read and written here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pasta_checkpoints import read_json_config
from pasta_checkpoints.hub import HubMixin
from pasta_core.atomic import write_json
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import PairOutputs, TrainableValueModel, ValueModel
from pasta_core.types import Candidate, History

__all__ = ["PairOutputs", "TorchValueModel", "TrainableValueModel", "ValueModel", "q_values_of_models",
           "read_config", "write_config"]

CONFIG_FILE = "config.json"


class TorchValueModel(HubMixin):
    """Inference for trainable value models: chunked, gradient-free, in eval mode.

    Shared the Hugging Face way: ``save_pretrained(folder)``, ``push_to_hub(repo_id)`` and
    ``EmbeddedValueModel.from_pretrained(folder_or_repo_id, device=...)``
    (:class:`pasta_checkpoints.hub.HubMixin`) over the plugin's ``save`` and ``load``."""

    plugin = "?"
    module: Any
    chunk_size = 256
    hub_tags = ("pasta-t2i", "value-model")

    def save(self, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: str | os.PathLike[str], device: str = "cpu") -> Any:
        raise NotImplementedError

    def _save_folder(self, folder: Path) -> None:
        self.save(folder)

    @classmethod
    def _from_folder(cls, folder: Path, **kwargs: Any) -> Any:
        return cls.load(folder, **kwargs)

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
    config = read_json_config(path, "value-model checkpoint")
    if not isinstance(config.get("plugin"), str):
        raise InvalidValueError(f"{path} has no 'plugin' key naming the value model that loads it")
    return config


def write_config(folder: str | os.PathLike[str], config: dict[str, Any]) -> Path:
    """Write ``config.json`` atomically and durably."""
    path = Path(folder) / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, config)
