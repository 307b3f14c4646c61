"""An on-disk embedding cache keyed by content hash and encoder identity.

Layout: ``FOLDER/<sha of encoder identity>/{text,image}/shard-NNNNNN.npy`` (float32
vectors, read memory-mapped) with ``shard-NNNNNN.keys.npy`` beside each (16-byte content
hashes). A shard is committed by its keys file, written last and atomically, so a killed
run leaves at worst an orphan vector file that is ignored. Text is keyed by its UTF-8
bytes, an image by its file bytes (a path or raw bytes) or, for an in-memory PIL image, by
its pixels. The frozen training phase only reads this cache.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pasta_core.atomic import write_bytes
from pasta_core.errors import InvalidValueError


def content_key(item: Any) -> bytes:
    """16-byte hash of a text, raw bytes, a file path or a PIL image."""
    h = hashlib.blake2b(digest_size=16)
    if isinstance(item, str):
        h.update(b"t:" + item.encode("utf-8"))
    elif isinstance(item, (bytes, bytearray, memoryview)):
        h.update(b"b:" + bytes(item))
    elif isinstance(item, Path):
        try:
            h.update(b"b:" + item.read_bytes())
        except OSError as exc:
            raise InvalidValueError(f"cannot read image {item}: {exc}") from exc
    elif hasattr(item, "tobytes"):
        h.update(f"p:{item.mode}:{item.size}:".encode() + item.tobytes())
    else:
        raise InvalidValueError(f"cannot hash {type(item).__name__} for the embedding cache")
    return h.digest()


def open_image(item: Any) -> Any:
    """A PIL image from a path, raw bytes or a PIL image."""
    from PIL import Image

    if hasattr(item, "convert"):
        return item
    try:
        source = io.BytesIO(bytes(item)) if isinstance(item, (bytes, bytearray, memoryview)) else item
        image = Image.open(source)
        image.load()
        return image.convert("RGB")
    except Exception as exc:  # PIL raises many kinds
        raise InvalidValueError(f"cannot decode image {str(item)[:80]!r}: {exc}") from exc


class _Store:
    """Sharded vectors of one kind (text or image)."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder, self.dim = folder, dim
        folder.mkdir(parents=True, exist_ok=True)
        self.index: dict[bytes, tuple[int, int]] = {}
        self.shards: list[np.ndarray] = []
        for keys_file in sorted(folder.glob("shard-*.keys.npy")):
            vectors = np.load(keys_file.with_name(keys_file.name.replace(".keys", "")), mmap_mode="r")
            shard = len(self.shards)
            self.shards.append(vectors)
            for row, key in enumerate(np.load(keys_file)):
                self.index[bytes(key)] = (shard, row)

    def get(self, keys: Sequence[bytes]) -> np.ndarray:
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        for n, key in enumerate(keys):
            shard, row = self.index[key]
            out[n] = self.shards[shard][row]
        return out

    def add(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        name = f"shard-{len(list(self.folder.glob('shard-*.keys.npy'))):06d}"
        vec_path, key_path = self.folder / f"{name}.npy", self.folder / f"{name}.keys.npy"
        for path, array in ((vec_path, np.asarray(vectors, np.float32)),
                            (key_path, np.frombuffer(b"".join(keys), dtype="S16"))):
            write_bytes(path, _npy(array))
        shard = len(self.shards)
        self.shards.append(np.load(vec_path, mmap_mode="r"))
        for row, key in enumerate(keys):
            self.index[key] = (shard, row)


class EmbeddingCache:
    """Encoder embeddings computed once, in batches, stored on disk (see module docstring)."""

    def __init__(self, folder: str | Path, encoder: Any, batch_size: int = 256) -> None:
        self.encoder = encoder
        self.batch_size = batch_size
        digest = hashlib.sha256(encoder.identity.encode()).hexdigest()[:20]
        self.root = Path(folder) / digest
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "identity.txt").write_text(encoder.identity + "\n")
        self._stores = {kind: _Store(self.root / kind, encoder.dim) for kind in ("text", "image")}
        self.computed = {"text": 0, "image": 0}

    def texts(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` (n, d), computing the missing ones."""
        return self._embed("text", list(texts), [content_key(str(t)) for t in texts], self.encoder.encode_text, progress)

    def images(self, images: Sequence[Any], progress: bool = False) -> np.ndarray:
        """Embeddings of images given as paths, raw bytes or PIL images: (n, d)."""
        items = [Path(i) if isinstance(i, str) else i for i in images]
        encode = lambda batch: self.encoder.encode_images([open_image(i) for i in batch])  # noqa: E731
        return self._embed("image", items, [content_key(i) for i in items], encode, progress)

    def _embed(self, kind: str, items: list[Any], keys: list[bytes], encode: Any, progress: bool) -> np.ndarray:
        from tqdm.auto import tqdm

        store = self._stores[kind]
        missing: dict[bytes, Any] = {}
        for key, item in zip(keys, items):
            if key not in store.index:
                missing.setdefault(key, item)
        pending = list(missing.items())
        for start in tqdm(range(0, len(pending), self.batch_size), disable=not progress or not pending,
                          desc=f"embedding {kind}s", unit="batch"):
            chunk = pending[start : start + self.batch_size]
            store.add([k for k, _ in chunk], encode([item for _, item in chunk]))
            self.computed[kind] += len(chunk)
        return store.get(keys) if keys else np.zeros((0, self.encoder.dim), np.float32)


def _npy(array: np.ndarray) -> bytes:
    """``array`` in NumPy's .npy format."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
