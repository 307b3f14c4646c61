"""Text/image encoders for user models: ``openclip`` (real CLIP weights from disk),
``embedded`` (offline: packaged MiniLM text model + the fixed image features of
:mod:`pasta_encoders.imagefeatures`) and ``randconv`` (offline: MiniLM text + fixed random
convolutions of the image, :mod:`pasta_encoders.randconv`: shares no code with those
features).

Build one from a plugin set: ``plugins.create("encoder", "embedded")``. The interfaces are
:class:`pasta_core.protocols.Encoder` and :class:`~pasta_core.protocols.TrainableEncoder`
(both built-ins are trainable: the user model's second training phase fine-tunes them);
:func:`pasta_core.testing.check_encoder` and :func:`~pasta_core.testing.check_trainable_encoder`
test a new one.
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


def _openclip(**options: Any) -> Any:
    from pasta_encoders.openclip import OpenClipEncoder

    return OpenClipEncoder(**options)


def _embedded(**options: Any) -> Any:
    from pasta_encoders.embedded import EmbeddedEncoder

    return EmbeddedEncoder(**options)


def _randconv(**options: Any) -> Any:
    from pasta_encoders.randconv import RandomConvEncoder

    return RandomConvEncoder(**options)


@hookimpl
def pasta_register_encoders(register: Any) -> None:
    register("openclip", _openclip, "open_clip CLIP towers, weights from a local folder or file")
    register("embedded", _embedded, "offline: packaged MiniLM text + fixed image features")
    register("randconv", _randconv, "offline: packaged MiniLM text + fixed random convolutions of the image")
