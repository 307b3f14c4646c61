"""The on-disk embedding cache: computed once, reused across processes, kill-safe."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pasta_clip_em.cache import EmbeddingCache


def _png(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_embeddings_are_computed_once_and_read_back(tmp_path, hash_encoder):
    cache = EmbeddingCache(tmp_path, hash_encoder, batch_size=2)
    texts = ["a", "b", "a", "c"]
    first = cache.texts(texts)
    assert cache.computed["text"] == 3 and np.allclose(first[0], first[2])
    again = EmbeddingCache(tmp_path, hash_encoder)
    assert np.allclose(again.texts(texts), first)
    assert again.computed["text"] == 0
    shards = list(tmp_path.rglob("shard-*.npy"))
    assert shards and isinstance(again._stores["text"].shards[0], np.memmap)


def test_images_by_path_bytes_and_pil(tmp_path, hash_encoder):
    data = _png((200, 0, 0))
    path = tmp_path / "red.png"
    path.write_bytes(data)
    cache = EmbeddingCache(tmp_path / "cache", hash_encoder)
    rows = cache.images([path, data, str(path)])
    assert np.allclose(rows[0], rows[1]) and np.allclose(rows[0], rows[2])
    assert cache.computed["image"] == 1


def test_encoder_identity_separates_caches(tmp_path, hash_encoder):
    class Other(type(hash_encoder)):
        identity = "another-encoder"

    EmbeddingCache(tmp_path, hash_encoder).texts(["a"])
    other = EmbeddingCache(tmp_path, Other())
    other.texts(["a"])
    assert other.computed["text"] == 1


def test_an_orphan_shard_from_a_killed_run_is_ignored(tmp_path, hash_encoder):
    cache = EmbeddingCache(tmp_path, hash_encoder)
    cache.texts(["a"])
    folder = cache.root / "text"
    np.save(folder / "shard-000001.npy", np.zeros((3, 16), np.float32))  # keys file never written
    again = EmbeddingCache(tmp_path, hash_encoder)
    assert len(again._stores["text"].index) == 1
    again.texts(["b"])
    assert np.allclose(EmbeddingCache(tmp_path, hash_encoder).texts(["b"]), hash_encoder.encode_text(["b"]))
