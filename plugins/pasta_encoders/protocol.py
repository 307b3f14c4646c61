"""The encoder interface user models build on: a text encoder and an image encoder that
map into one space of ``dim`` values.

Embeddings are returned *without* output normalization (the user model adds its per-type
offsets before normalizing, as in the paper). ``identity`` names the encoder and its weights
so that cached embeddings are never mixed between encoders.

:class:`TrainableEncoder` adds what the user model's fine-tuning phase needs: the torch
module to train and differentiable forward passes over raw prompts and images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image


@runtime_checkable
class Encoder(Protocol):
    """A text/image encoder pair sharing one embedding size."""

    @property
    def dim(self) -> int:
        """Embedding size d (text and image embeddings both have it)."""
        ...

    @property
    def identity(self) -> str:
        """A stable string naming the encoder and its weights (a cache key component)."""
        ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``: float32, shape (len(texts), dim), not normalized."""
        ...

    def encode_images(self, images: Sequence[Image]) -> np.ndarray:
        """Embeddings of PIL ``images``: float32, shape (len(images), dim), not normalized."""
        ...


def check_encoder(encoder: Encoder) -> None:
    """Raise ``AssertionError`` unless ``encoder`` follows the contract above (for tests)."""
    from PIL import Image as PILImage

    assert isinstance(encoder, Encoder), "dim, identity, encode_text, encode_images are needed"
    texts = encoder.encode_text(["a red cat", "a blue dog"])
    assert texts.shape == (2, encoder.dim) and texts.dtype == np.float32, f"text shape {texts.shape}"
    images = [PILImage.new("RGB", (40, 30), c) for c in ((200, 10, 10), (10, 10, 200))]
    embedded = encoder.encode_images(images)
    assert embedded.shape == (2, encoder.dim) and embedded.dtype == np.float32, "image shape"
    assert np.all(np.isfinite(texts)) and np.all(np.isfinite(embedded)), "non-finite embedding"
    assert encoder.encode_text([]).shape == (0, encoder.dim), "empty text batch"
    assert encoder.encode_images([]).shape == (0, encoder.dim), "empty image batch"
    again = encoder.encode_text(["a red cat"])
    assert np.allclose(again[0], texts[0], atol=1e-4), "not deterministic"
    assert isinstance(encoder.identity, str) and encoder.identity, "identity must be a string"


@runtime_checkable
class TrainableEncoder(Encoder, Protocol):
    """An encoder whose weights can be fine-tuned (the user model's second training phase).

    ``trainable_module()`` holds every parameter fine-tuning updates; the trainer keeps it
    in eval mode (no dropout, fixed normalization statistics) while training its weights, so
    a run is deterministic and resumes exactly. ``forward_text`` / ``forward_images`` return
    torch tensors on the encoder's device that carry gradients when grad mode is on; images
    are first turned into model inputs by ``prepare_images`` (the model's own preprocessing,
    a CPU tensor, done once per image and cacheable). ``encode_text`` / ``encode_images``
    always reflect the current weights.
    """

    def trainable_module(self) -> Any:
        """The ``torch.nn.Module`` whose parameters fine-tuning trains."""
        ...

    def to(self, device: str) -> TrainableEncoder:
        """Move the trainable module (and later inputs) to ``device``; returns self."""
        ...

    def forward_text(self, texts: Sequence[str]) -> Any:
        """(len(texts), dim) float tensor, not normalized, differentiable."""
        ...

    def prepare_images(self, images: Sequence[Image]) -> Any:
        """PIL images -> model inputs: a CPU tensor with one row per image."""
        ...

    def forward_images(self, prepared: Any) -> Any:
        """(n, dim) float tensor from ``prepare_images`` rows, not normalized, differentiable."""
        ...

    def save_finetuned(self, path: str | Path) -> None:
        """Write the trainable module's weights to ``path`` (safetensors) and mark the
        identity as fine-tuned (with a digest of the file)."""
        ...

    def load_finetuned(self, path: str | Path) -> None:
        """Load weights written by ``save_finetuned`` (the identity follows them)."""
        ...


def check_trainable_encoder(encoder: TrainableEncoder, atol: float = 1e-4) -> None:
    """Raise ``AssertionError`` unless ``encoder`` follows the fine-tuning contract (tests)."""
    import torch
    from PIL import Image as PILImage

    check_encoder(encoder)
    assert isinstance(encoder, TrainableEncoder), "trainable_module, forward_text, ... are needed"
    module = encoder.trainable_module()
    assert isinstance(module, torch.nn.Module), "trainable_module() must be a torch module"
    texts = ["a red cat", "a blue dog on a hill"]
    images = [PILImage.new("RGB", (40, 30), c) for c in ((200, 10, 10), (10, 10, 200))]
    trainable = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(True)
    t = encoder.forward_text(texts)
    i = encoder.forward_images(encoder.prepare_images(images))
    assert tuple(t.shape) == (2, encoder.dim) and tuple(i.shape) == (2, encoder.dim), "tensor shapes"
    assert np.allclose(t.detach().cpu().numpy(), encoder.encode_text(texts), atol=atol), "text paths disagree"
    assert np.allclose(i.detach().cpu().numpy(), encoder.encode_images(images), atol=atol), "image paths disagree"
    module.zero_grad(set_to_none=True)
    (t.square().sum() + i.square().sum()).backward()
    reached = [p for p in module.parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
    module.zero_grad(set_to_none=True)
    for p, flag in zip(module.parameters(), trainable):
        p.requires_grad_(flag)
    assert reached, "no gradient reaches the trainable module"
