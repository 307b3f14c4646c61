"""LoRA adapters for the diffusers plugins: ``lora=PATH[:SCALE][,PATH[:SCALE]...]``.

Each PATH is a local ``.safetensors`` file or a folder holding
``pytorch_lora_weights.safetensors`` (what ``save_lora_weights`` writes). The adapters are
loaded with diffusers' PEFT backend (``pip install 'pasta-t2i[sdxl]'`` brings peft), weighted
by their scales and, with ``lora_fuse`` (default), fused into the base weights so that a
step costs what it costs without them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import attrs

from pasta_core.errors import BackendError, InvalidValueError, require

log = logging.getLogger("pasta.diffusers")

DEFAULT_WEIGHTS = "pytorch_lora_weights.safetensors"


@attrs.frozen
class Lora:
    """One adapter: where its weights are and how strongly it applies."""

    path: str
    scale: float = 1.0


def _one(text: str) -> Lora:
    path, sep, tail = text.rpartition(":")
    if sep and path and not tail.startswith(("/", "\\")):
        try:
            return Lora(path.strip(), float(tail))
        except ValueError:
            pass  # a path with a colon in it and no scale
    return Lora(text.strip())


def parse_loras(value: Any) -> list[Lora]:
    """``"a.safetensors:0.8,b"`` (or a list of such texts) -> adapters, in order."""
    if value in (None, "", "none"):
        return []
    texts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    loras = [_one(str(t)) for t in texts if str(t).strip()]
    for lora in loras:
        if not lora.path:
            raise InvalidValueError(f"option lora must be PATH[:SCALE][,PATH[:SCALE]...], got {value!r}")
    return loras


def _source(path: str) -> tuple[str, str]:
    """(folder, weight file name) of a LoRA given as a file or a folder."""
    where = Path(path).expanduser()
    if where.is_file():
        if where.suffix != ".safetensors":
            raise InvalidValueError(f"LoRA {path} is not a .safetensors file (other formats are refused)")
        return str(where.parent), where.name
    if where.is_dir() and (where / DEFAULT_WEIGHTS).is_file():
        return str(where), DEFAULT_WEIGHTS
    raise InvalidValueError(
        f"LoRA {path} is neither a .safetensors file nor a folder with {DEFAULT_WEIGHTS}"
    )


def apply_loras(pipeline: Any, loras: list[Lora], fuse: bool) -> bool:
    """Load ``loras`` into ``pipeline`` with their scales; fuse them when ``fuse`` and the
    pipeline allows it. Returns whether they were fused."""
    if not loras:
        return False
    if not hasattr(pipeline, "load_lora_weights"):
        raise InvalidValueError(f"{type(pipeline).__name__} takes no LoRA adapters")
    require("peft", "sdxl")
    names = []
    for index, lora in enumerate(loras):
        folder, weights = _source(lora.path)
        name = f"lora{index}"
        try:
            pipeline.load_lora_weights(folder, weight_name=weights, adapter_name=name, use_safetensors=True)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise BackendError(f"could not load LoRA {lora.path} into {type(pipeline).__name__}: "
                               f"{' '.join(str(exc).split())[:300]}") from exc
        names.append(name)
    pipeline.set_adapters(names, adapter_weights=[lora.scale for lora in loras])
    if not fuse:
        return False
    try:
        pipeline.fuse_lora(adapter_names=names, lora_scale=1.0)
        pipeline.unload_lora_weights()  # the fused weights stay; the adapter layers go
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        log.warning("LoRA adapters kept unfused (%s)", exc)
        return False
    return True
