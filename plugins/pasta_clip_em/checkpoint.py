"""Checkpoint folders: ``config.json`` ("plugin": "clip-em", the model settings) and
``model.safetensors`` (the score model's tensors plus the learned prior). No pickle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pasta_clip_em.config import ModelConfig
from pasta_core.errors import InvalidValueError

MODEL_FILE = "model.safetensors"


def save_tensors(path: Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file atomically (a kill leaves the previous file intact)."""
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def save_checkpoint(folder: str | Path, model: Any, prior: np.ndarray, **extra: Any) -> Path:
    """Save ``model`` (a ScoreModel) and ``prior`` as a checkpoint folder."""
    import torch

    from pasta_clip_em.model import state_tensors

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = state_tensors(model)
    tensors["prior"] = torch.as_tensor(np.asarray(prior, dtype=np.float32))
    save_tensors(folder / MODEL_FILE, tensors)
    model.config.save(folder, **extra)
    return folder


def load_checkpoint(folder: str | Path, device: str = "cpu") -> tuple[Any, np.ndarray, ModelConfig]:
    """(score model in eval mode, prior, config) from a checkpoint folder."""
    from safetensors.torch import load_file

    from pasta_clip_em.model import ScoreModel

    folder = Path(folder)
    config = ModelConfig.load(folder)
    if not (folder / MODEL_FILE).is_file():
        raise InvalidValueError(f"{folder} has no {MODEL_FILE}; was training stopped before the first save?")
    tensors = load_file(str(folder / MODEL_FILE), device=device)
    prior = tensors.pop("prior").double().cpu().numpy()
    model = ScoreModel(config).to(device)
    model.load_state_dict(tensors)
    model.eval()
    return model, prior / prior.sum(), config
