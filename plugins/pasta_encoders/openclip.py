"""The ``openclip`` encoder: any open_clip architecture, weights from a local folder or file.

``model`` is an open_clip model name (``ViT-L-14``, the paper's default) with ``weights``
a checkpoint file, or ``local-dir:PATH`` for a folder holding ``open_clip_config.json`` and
``open_clip_model.safetensors`` (the layout of the hub's open_clip repositories). Nothing is
downloaded. Embeddings are returned without CLIP's output normalization.

Fine-tuning (the user model's second phase): ``trainable_module()`` is the whole CLIP model
(image and text towers); ``prepare_images`` runs the model's own preprocessing transform
into a batch tensor and ``forward_text`` / ``forward_images`` keep gradients.
``finetuned=FILE`` loads weights written by ``save_finetuned``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pasta_core.errors import InvalidValueError, require


def _weights_fingerprint(model: str, weights: str | None) -> str:
    """A short digest of the weights' location, size and mtime (cheap, changes with them)."""
    target = Path(weights) if weights else Path(model.removeprefix("local-dir:"))
    parts = [model, str(weights)]
    files = sorted(target.glob("*")) if target.is_dir() else [target]
    for file in files:
        if file.is_file():
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class OpenClipEncoder:
    """An open_clip model's text and image towers (eval mode; trainable on request)."""

    def __init__(
        self,
        model: str = "ViT-L-14",
        weights: str | None = None,
        device: str = "cpu",
        batch_size: int | str = 32,
        finetuned: str | None = None,
    ) -> None:
        open_clip = require("open_clip", "clip", "open-clip-torch")
        if not model.startswith("local-dir:") and not weights:
            raise InvalidValueError(
                f"openclip model {model!r} needs weights=FILE, or use model=local-dir:FOLDER "
                "(nothing is downloaded)"
            )
        if model.startswith("local-dir:") and not Path(model.removeprefix("local-dir:")).is_dir():
            raise InvalidValueError(f"no open_clip folder at {model.removeprefix('local-dir:')}")
        if weights and not Path(weights).is_file():
            raise InvalidValueError(f"no open_clip weights file at {weights}")
        self.model_name = model
        self.device = device
        self.batch_size = int(batch_size)
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(
            model, pretrained=weights or None, device=device
        )
        self.model.eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(model)
        self._base_identity = f"openclip:{model.split('/')[-1]}:{_weights_fingerprint(model, weights)}"
        self._identity = self._base_identity
        with self._no_grad():
            self._dim = int(self.model.encode_text(self.tokenizer(["x"]).to(device)).shape[-1])
        if finetuned:
            self.load_finetuned(finetuned)

    @staticmethod
    def _no_grad() -> Any:
        import torch

        return torch.inference_mode()

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        return self._identity

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        chunks = [np.zeros((0, self._dim), dtype=np.float32)]
        with self._no_grad():
            for start in range(0, len(texts), self.batch_size):
                out = self.forward_text(texts[start : start + self.batch_size])
                chunks.append(out.float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        chunks = [np.zeros((0, self._dim), dtype=np.float32)]
        with self._no_grad():
            for start in range(0, len(images), self.batch_size):
                out = self.forward_images(self.prepare_images(images[start : start + self.batch_size]))
                chunks.append(out.float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)

    # ----- fine-tuning (pasta_core.protocols.TrainableEncoder) ----------------------
    def trainable_module(self) -> Any:
        """The CLIP model: both towers are trained (the trainer sets requires_grad)."""
        return self.model

    def to(self, device: str) -> OpenClipEncoder:
        self.model.to(device)
        self.device = str(device)
        return self

    def forward_text(self, texts: Sequence[str]) -> Any:
        import torch

        if len(texts) == 0:
            return torch.zeros((0, self._dim), device=self.device)
        tokens = self.tokenizer(list(texts)).to(self.device)
        return self.model.encode_text(tokens, normalize=False).float()

    def prepare_images(self, images: Sequence[Any]) -> Any:
        """The model's own preprocessing transform, stacked: (n, 3, H, W) on the CPU."""
        import torch

        if len(images) == 0:
            return torch.zeros((0, 0))
        return torch.stack([self.preprocess(im.convert("RGB")) for im in images])

    def forward_images(self, prepared: Any) -> Any:
        import torch

        if len(prepared) == 0:
            return torch.zeros((0, self._dim), device=self.device)
        return self.model.encode_image(prepared.to(self.device), normalize=False).float()

    def save_finetuned(self, path: str | Path) -> None:
        from pasta_encoders.weights import save_weights

        self._identity = f"{self._base_identity}:finetuned={save_weights(self.model, path)}"

    def load_finetuned(self, path: str | Path) -> None:
        from pasta_encoders.weights import load_weights

        self._identity = f"{self._base_identity}:finetuned={load_weights(self.model, path)}"
