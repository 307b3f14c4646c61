"""The images of earlier turns as image parts of a provider request.

The paper's generator is a multimodal model that sees what the person saw. The ``images``
option of an LLM generator says which earlier images it sends: ``none``, ``chosen`` (the
chosen column's M images of every earlier turn, the paper's setting) or ``all`` (every
column, each labelled chosen or passed over). Each is scaled down to at most
``image_max_side`` pixels on its longer side and sent as a JPEG, after a caption naming
its turn and column; at most ``max_images`` go with one request (whole turns, the latest
first: Anthropic takes 100 a request). Providers put the parts in their own request shapes.
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
#: The default number of images one request carries at most (the latest turns' first).
DEFAULT_MAX_IMAGES = 64
JPEG_QUALITY = 85
PNG_LEVEL = 6


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
    """Which earlier images a generator sends (``mode``), their longest side in pixels and
    how many a request carries at most."""

    mode: str = "none"
    max_side: int = DEFAULT_MAX_SIDE
    max_images: int = DEFAULT_MAX_IMAGES

    def __attrs_post_init__(self) -> None:
        if self.mode not in IMAGE_MODES:
            raise InvalidValueError(f"option images must be one of {', '.join(IMAGE_MODES)}; got {self.mode!r}")
        if not isinstance(self.max_side, int) or self.max_side < 16:
            raise InvalidValueError(f"option image_max_side must be an integer of at least 16, got {self.max_side!r}")
        if not isinstance(self.max_images, int) or self.max_images < 1:
            raise InvalidValueError(f"option max_images must be a positive integer, got {self.max_images!r}")


def image_options(images: Any, max_side: Any, max_images: Any = DEFAULT_MAX_IMAGES) -> ImageOptions:
    """The ``images``, ``image_max_side`` and ``max_images`` options (CLI strings accepted)."""
    mode = str(images if images not in (None, "") else "none").strip().lower()
    numbers = []
    for name, value in (("image_max_side", max_side), ("max_images", max_images)):
        try:
            numbers.append(int(value))
        except (TypeError, ValueError):
            raise InvalidValueError(f"option {name} must be an integer, got {value!r}") from None
    return ImageOptions(mode, *numbers)


def encode_image(image: Any, max_side: int, image_format: str = "JPEG") -> bytes:
    """``image`` (PIL) in RGB, scaled down to at most ``max_side`` pixels a side, as JPEG
    (or ``image_format="PNG"``) bytes."""
    picture = image.convert("RGB")
    if max(picture.size) > max_side:
        picture = picture.copy()
        picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    options = {"quality": JPEG_QUALITY} if image_format == "JPEG" else {"compress_level": PNG_LEVEL}
    picture.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def column_caption(turn: int, column: int, chosen: bool, image: int, count: int) -> str:
    """The caption before image ``image`` of ``count`` of a turn's column (1-based turn and
    image, 0-based column)."""
    state = "chosen" if chosen else "passed over"
    return f"Turn {turn}, column {column + 1} ({state}), image {image} of {count}:"


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
    column order (none when the mode is ``none`` or the request carries no images); at
    most ``options.max_images``, whole turns from the latest back. ``encode`` remembers
    the images encoded for earlier turns."""
    if options.mode == "none" or request.images is None:
        return ()
    encode = encode or EncodedImages(options.max_side)
    kept: list[list[tuple[str, Any]]] = []
    room = options.max_images
    for number in range(len(request.history.turns), 0, -1):
        shown = _turn_images(request, number, options.mode)
        if len(shown) > room:
            break
        kept.insert(0, shown)
        room -= len(shown)
    return tuple(ImagePart(caption, "image/jpeg", encode(image)) for turn in kept for caption, image in turn)


def _turn_images(request: GenerationRequest, number: int, mode: str) -> list[tuple[str, Any]]:
    """(caption, image) of the columns of turn ``number`` that ``mode`` sends."""
    assert request.images is not None
    turn = request.history.turns[number - 1]
    result = []
    for column in range(len(turn.slate)) if mode == "all" else [turn.choice]:
        shown = request.images.images(number, column)
        for index, image in enumerate(shown, start=1):
            result.append((column_caption(number, column, column == turn.choice, index, len(shown)), image))
    return result
