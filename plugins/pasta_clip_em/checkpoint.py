"""Checkpoint folders: ``config.json`` ("plugin": "clip-em", the model settings) and
``model.safetensors`` (the score model's tensors plus the learned prior); after the
fine-tuning phase also ``encoder.safetensors`` (the fine-tuned encoder's weights), named
by the config's ``encoder_state`` so the checkpoint reloads its own encoder. No pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pasta_clip_em.config import ModelConfig
from pasta_core.atomic import write_atomically
from pasta_core.errors import InvalidValueError

MODEL_FILE = "model.safetensors"
ENCODER_FILE = "encoder.safetensors"


def save_tensors(path: Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file atomically and durably (a kill or a power loss leaves the
    previous file intact)."""
    from safetensors.torch import save_file

    write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def save_checkpoint(folder: str | Path, model: Any, prior: np.ndarray, encoder: Any = None, **extra: Any) -> Path:
    """Save ``model`` (a ScoreModel) and ``prior`` as a checkpoint folder; with a
    fine-tuned ``encoder`` (a TrainableEncoder), its weights too, recorded in the config."""
    import torch

    from pasta_clip_em.model import state_tensors

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = state_tensors(model)
    tensors["prior"] = torch.as_tensor(np.asarray(prior, dtype=np.float32))
    save_tensors(folder / MODEL_FILE, tensors)
    if encoder is not None:
        encoder.save_finetuned(folder / ENCODER_FILE)
        model.config.encoder_state = ENCODER_FILE
    model.config.save(folder, **extra)
    return folder


def load_checkpoint(folder: str | Path, device: str = "cpu") -> tuple[Any, np.ndarray, ModelConfig]:
    """(score model in eval mode, prior, config) from a checkpoint folder. The tensors are
    checked against the config before they reach the model (names, shapes, all finite):
    a truncated, foreign or diverged checkpoint is refused naming its file."""
    from pasta_checkpoints import CheckpointError, load_safetensors
    from pasta_clip_em.model import LEGACY_PARAMETERS, OPTIONAL_PARAMETERS, ScoreModel

    folder = Path(folder)
    config = ModelConfig.load(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise InvalidValueError(f"{folder} has no {MODEL_FILE}; was training stopped before the first save?")
    model = ScoreModel(config)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    expected["prior"] = (config.types,)
    tensors = load_safetensors(path, expected=expected, optional=OPTIONAL_PARAMETERS, device=device,
                               rename=lambda name: LEGACY_PARAMETERS.get(name, name), config=folder / "config.json")
    prior = tensors.pop("prior").double().cpu().numpy()
    if prior.min() < 0 or prior.sum() <= 0:
        raise CheckpointError(f"{path}: the prior over user types must be non-negative with a positive sum, "
                              f"got {np.round(prior, 4).tolist()}")
    model.to(device).load_state_dict(tensors, strict=False)
    model.eval()
    return model, prior / prior.sum(), config


def load_encoder(folder: str | Path | None, config: ModelConfig, device: str = "cpu", *, plugins: Any) -> Any:
    """The encoder a checkpoint was trained with: built from ``plugins`` by the config's
    ``encoder`` and ``encoder_options``, with the fine-tuned weights of ``encoder_state``
    loaded if any."""
    options = dict(config.encoder_options)
    if device != "cpu" and "device" not in options:
        options["device"] = device
    encoder = plugins.create("encoder", config.encoder, **options)
    if config.encoder_state:
        if folder is None:
            raise InvalidValueError("this model's encoder was fine-tuned: load it from its checkpoint folder")
        path = Path(folder) / config.encoder_state
        if not path.is_file():
            raise InvalidValueError(f"{folder} has no {config.encoder_state} (its fine-tuned encoder); copy it back")
        if not hasattr(encoder, "load_finetuned"):
            raise InvalidValueError(f"encoder {config.encoder!r} cannot load fine-tuned weights")
        from pasta_checkpoints import load_safetensors

        load_safetensors(path)  # readable and finite, or refused naming the file
        encoder.load_finetuned(path)
    return encoder
