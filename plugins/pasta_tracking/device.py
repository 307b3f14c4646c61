"""``--device auto``: the accelerator when torch sees one, else the CPU."""

from __future__ import annotations

from pasta_core.errors import require

#: The device options' default: resolved by :func:`resolve_device`.
AUTO = "auto"


def resolve_device(name: str) -> str:
    """``cuda`` (or ``mps``) when ``name`` is ``auto`` and torch sees one, else ``cpu``;
    any other name is returned as given."""
    if name != AUTO:
        return name
    torch = require("torch", "train")
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
