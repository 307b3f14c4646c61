"""Fine-tuned encoder weights on disk: one safetensors file per encoder (no pickle).

The file holds the trainable module's ``state_dict``; its content digest becomes part of
the encoder's identity, so embeddings cached for the original weights are never reused
for fine-tuned ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pasta_core.atomic import write_atomically
from pasta_core.errors import InvalidValueError


def module_tensors(module: Any) -> dict[str, Any]:
    """The module's state as contiguous CPU tensors, with no two sharing memory
    (safetensors refuses shared storage; tied weights are saved as copies)."""
    out: dict[str, Any] = {}
    seen: set[int] = set()
    for key, value in module.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        pointer = tensor.data_ptr()
        out[key] = tensor.clone() if pointer in seen and tensor.numel() else tensor
        seen.add(pointer)
    return out


def file_digest(path: str | Path) -> str:
    """A 16-hex-digit content digest of a file."""
    digest = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def save_weights(module: Any, path: str | Path) -> str:
    """Write ``module``'s weights to ``path`` atomically; returns the file's digest."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = module_tensors(module)
    write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}))
    return file_digest(path)


def load_weights(module: Any, path: str | Path) -> str:
    """Load weights written by :func:`save_weights` into ``module``; returns the digest."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise InvalidValueError(f"no fine-tuned encoder weights at {path}")
    device = next(iter(module.parameters())).device
    tensors = load_file(str(path), device=str(device))
    missing, unexpected = module.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise InvalidValueError(
            f"{path} does not fit this encoder (missing {list(missing)[:3]}, unexpected "
            f"{list(unexpected)[:3]}): was it written for another architecture or size?"
        )
    return file_digest(path)
