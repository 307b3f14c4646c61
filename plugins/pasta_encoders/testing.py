"""Helpers for testing code that uses encoders, with nothing downloaded."""

from __future__ import annotations

import json
from pathlib import Path

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def write_tiny_openclip(folder: str | Path, seed: int = 0) -> Path:
    """A tiny random open_clip model (32-d embeddings, 32 px images, ~2 M parameters)
    saved as ``open_clip_config.json`` + ``open_clip_model.safetensors``: load it with
    ``plugins.create("encoder", "openclip", model=f"local-dir:{folder}")``."""
    import torch
    from open_clip.model import CLIP
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(**TINY_CLIP)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP, "preprocess_cfg": {}}))
    save_file(model.state_dict(), str(folder / "open_clip_model.safetensors"))
    return folder
