"""Fixtures for the user-model tests: tiny encoders and small models."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest


class HashEncoder:
    """A fast fake encoder: text and image embeddings from content hashes (dim 16)."""

    dim = 16
    identity = "hash-test-encoder"

    def __init__(self) -> None:
        self.image_calls = 0

    def _vec(self, data: bytes) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
        return np.random.default_rng(seed).normal(size=self.dim).astype(np.float32)

    def encode_text(self, texts):
        return np.stack([self._vec(t.encode()) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_images(self, images):
        self.image_calls += 1
        if not images:
            return np.zeros((0, self.dim), np.float32)
        # Mean colour drives the embedding so similar images embed similarly.
        rows = [np.asarray(im.convert("RGB"), np.float32).mean(axis=(0, 1)) / 255 for im in images]
        base = np.random.default_rng(0).normal(size=(3, self.dim)).astype(np.float32)
        return np.stack([r @ base + 0.1 * self._vec(im.tobytes()) for r, im in zip(rows, images)])


@pytest.fixture
def hash_encoder():
    return HashEncoder()


@pytest.fixture
def tiny_user_model(hash_encoder):
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.model import build_model
    from pasta_clip_em.usermodel import ClipEmUserModel
    from pasta_core import get_plugins

    config = ModelConfig(dim=16, types=3, score_scale=10.0, encoder="hash")
    return ClipEmUserModel(build_model(config, seed=1), np.array([0.5, 0.3, 0.2]),
                           aggregator=config.build_aggregator(get_plugins()), encoder=hash_encoder)


@pytest.fixture(scope="session")
def tiny_openclip(tmp_path_factory):
    """A tiny random open_clip model saved as a local folder (PLATFORM.md recipe)."""
    from pasta_encoders.testing import write_tiny_openclip

    return write_tiny_openclip(tmp_path_factory.mktemp("tinyclip"))


@pytest.fixture(scope="session")
def embedded_encoder():
    from pasta_core import get_plugins

    return get_plugins().create("encoder", "embedded", dim=32)
