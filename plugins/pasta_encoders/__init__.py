"""Text/image encoders for user models: ``openclip`` (real CLIP weights from disk) and
``embedded`` (offline: packaged MiniLM text model + fixed image features).

Build one with ``get_plugins().create("encoder", "embedded")``; the interface is
:class:`Encoder`; :func:`check_encoder` tests a new one. Both built-ins are also
:class:`TrainableEncoder` (fine-tuned by the user model's second training phase;
:func:`check_trainable_encoder` tests that contract).
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl
from pasta_encoders.protocol import (
    Encoder,
    TrainableEncoder,
    check_encoder,
    check_trainable_encoder,
)

__all__ = ["Encoder", "TrainableEncoder", "check_encoder", "check_trainable_encoder", "create_encoder"]


def _openclip(**options: Any) -> Any:
    from pasta_encoders.openclip import OpenClipEncoder

    return OpenClipEncoder(**options)


def _embedded(**options: Any) -> Any:
    from pasta_encoders.embedded import EmbeddedEncoder

    return EmbeddedEncoder(**options)


def create_encoder(name: str, **options: Any) -> Encoder:
    """Build the registered encoder ``name`` with ``options``."""
    from pasta_core.plugins import get_plugins

    return get_plugins().create("encoder", name, **options)


@hookimpl
def pasta_register_encoders(register: Any) -> None:
    register("openclip", _openclip, "open_clip CLIP towers, weights from a local folder or file")
    register("embedded", _embedded, "offline: packaged MiniLM text + fixed image features")
