"""Full-size diffusers pipelines with random weights, built from the published component
configs shipped in ``pasta_diffusers/configs/`` (no download): the same layers, shapes and
so the same compute per step as the real models, for timing. ``toy`` gives the tiny
pipeline of the same family instead (:mod:`pasta_diffusers.tiny`), for CPUs and CI.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pasta_core.errors import InvalidValueError, require
from pasta_diffusers.tiny import build_tiny_pipeline, clip_tokenizer

#: Models with a config file, and the image side a turn is rendered at.
NATIVE_SIZE = {"sdxl": 1024, "sd15": 512}


def model_config(name: str) -> dict[str, Any]:
    """The shipped configs of model ``name`` (``sdxl``, ``sd15``)."""
    if name not in NATIVE_SIZE:
        raise InvalidValueError(f"unknown model {name!r}; use one of {', '.join(NATIVE_SIZE)}")
    text = resources.files("pasta_diffusers").joinpath("configs", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def _text_encoder(transformers: Any, config: dict[str, Any]) -> Any:
    settings = {k: v for k, v in config.items() if k != "class"}
    return getattr(transformers, config["class"])(transformers.CLIPTextConfig(**settings))


def _scheduler(diffusers: Any, config: dict[str, Any]) -> Any:
    settings = {k: v for k, v in config.items() if k != "class"}
    return getattr(diffusers, config["class"]).from_config(settings)


def build_parts(config: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's models, created on torch's current default device (use ``with
    torch.device(...)``; ``meta`` builds them without memory)."""
    diffusers = require("diffusers", "sdxl")
    transformers = require("transformers", "sdxl")
    parts = {
        "unet": diffusers.UNet2DConditionModel.from_config(config["unet"]),
        "vae": diffusers.AutoencoderKL.from_config(config["vae"]),
        "text_encoder": _text_encoder(transformers, config["text_encoder"]),
    }
    if "text_encoder_2" in config:
        parts["text_encoder_2"] = _text_encoder(transformers, config["text_encoder_2"])
    return parts


def build_random_pipeline(name: str, device: str, dtype: Any, toy: bool = False, seed: int = 0) -> Any:
    """Model ``name`` with random weights on ``device`` in ``dtype``: full size from its
    published configs, or (``toy``) the tiny pipeline of its family."""
    torch = require("torch", "sdxl")
    diffusers = require("diffusers", "sdxl")
    config = model_config(name)
    if toy:
        tiny = build_tiny_pipeline(config["tiny"], seed).to(device)
        return tiny if dtype == torch.float32 else tiny.to(dtype=dtype)
    torch.manual_seed(seed)
    with torch.device(device):
        parts = build_parts(config)
    parts = {key: part.to(dtype) for key, part in parts.items()}
    parts["tokenizer"] = clip_tokenizer()
    if "text_encoder_2" in parts:
        parts["tokenizer_2"] = clip_tokenizer(pad_token="!")
    else:
        parts.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    cls = getattr(diffusers, config["pipeline"])
    return cls(scheduler=_scheduler(diffusers, config["scheduler"]), **parts)


def parameter_count(module: Any) -> int:
    """The number of weights in ``module``."""
    return sum(p.numel() for p in module.parameters())
