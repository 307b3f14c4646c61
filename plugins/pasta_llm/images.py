"""The images of earlier turns as image parts of a provider request.

The paper's generator is a multimodal model that sees what the person saw. The ``images``
option of an LLM generator says which earlier images it sends: ``none``, ``chosen`` (the
chosen column's M images of every earlier turn, the paper's setting) or ``all`` (every
column, each labelled chosen or passed over). Each is scaled down to at most
``image_max_side`` pixels on its longer side and sent as a JPEG, after a caption naming
its turn and column. Providers put the parts in their own request shapes.
"""

from __future__ import annotations

import base64
import io
import threading
import weakref
from collections import OrderedDict
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError
from pasta_core.protocols import GenerationRequest

#: The values of the ``images`` option.
IMAGE_MODES = ("none", "chosen", "all")
#: The default longest side of a sent image, in pixels.
DEFAULT_MAX_SIDE = 512
JPEG_QUALITY = 85


@attrs.frozen
class ImagePart:
    """One image for the provider: the caption before it, its MIME type and its bytes."""

    caption: str
    mime: str
    data: bytes = attrs.field(repr=lambda v: f"<{len(v)} bytes>")

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_url(self) -> str:
        """The image as a ``data:`` URL (the OpenAI chat API's inline image)."""
        return f"data:{self.mime};base64,{self.base64}"


@attrs.frozen
class ImageOptions:
    """Which earlier images a generator sends (``mode``) and their longest side in pixels."""

    mode: str = "none"
    max_side: int = DEFAULT_MAX_SIDE

    def __attrs_post_init__(self) -> None:
        if self.mode not in IMAGE_MODES:
            raise InvalidValueError(f"option images must be one of {', '.join(IMAGE_MODES)}; got {self.mode!r}")
        if not isinstance(self.max_side, int) or self.max_side < 16:
            raise InvalidValueError(f"option image_max_side must be an integer of at least 16, got {self.max_side!r}")


def image_options(images: Any, max_side: Any) -> ImageOptions:
    """The ``images`` and ``image_max_side`` options (CLI strings accepted)."""
    mode = str(images if images not in (None, "") else "none").strip().lower()
    try:
        side = int(max_side)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option image_max_side must be an integer, got {max_side!r}") from None
    return ImageOptions(mode, side)


def encode_image(image: Any, max_side: int) -> bytes:
    """``image`` (PIL) as JPEG bytes, scaled down to at most ``max_side`` pixels a side."""
    picture = image.convert("RGB")
    if max(picture.size) > max_side:
        picture = picture.copy()
        picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class EncodedImages:
    """:func:`encode_image` with a bounded memory of the images already encoded, so that the
    same earlier image is encoded once per session rather than once per turn (an image is
    known by identity while it lives; thread-safe)."""

    def __init__(self, max_side: int, size: int = 256) -> None:
        self.max_side = max_side
        self.size = size
        self._done: OrderedDict[int, tuple[Any, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, image: Any) -> bytes:
        with self._lock:
            hit = self._done.get(id(image))
        if hit is not None and hit[0]() is image:
            return hit[1]
        data = encode_image(image, self.max_side)
        try:
            ref = weakref.ref(image)
        except TypeError:  # not weak-referenceable: encode each time
            return data
        with self._lock:
            self._done[id(image)] = (ref, data)
            while len(self._done) > self.size:
                self._done.popitem(last=False)
        return data


def history_image_parts(
    request: GenerationRequest, options: ImageOptions, encode: EncodedImages | None = None
) -> tuple[ImagePart, ...]:
    """The image parts of ``request``'s history that ``options`` asks for, in turn and
    column order (none when the mode is ``none`` or the request carries no images);
    ``encode`` remembers the images encoded for earlier turns."""
    if options.mode == "none" or request.images is None:
        return ()
    encode = encode or EncodedImages(options.max_side)
    parts: list[ImagePart] = []
    for number, turn in enumerate(request.history.turns, start=1):
        columns = range(len(turn.slate)) if options.mode == "all" else [turn.choice]
        for column in columns:
            state = "chosen" if column == turn.choice else "passed over"
            shown = request.images.images(number, column)
            for index, image in enumerate(shown, start=1):
                caption = f"Turn {number}, column {column + 1} ({state}), image {index} of {len(shown)}:"
                parts.append(ImagePart(caption, "image/jpeg", encode(image)))
    return tuple(parts)
