"""Contract checks for encoders (the protocols themselves are in
:mod:`pasta_core.protocols`: ``Encoder`` and ``TrainableEncoder``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pasta_core.protocols import Encoder, TrainableEncoder

if TYPE_CHECKING:
    pass


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
