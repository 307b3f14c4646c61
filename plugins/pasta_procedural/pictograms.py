"""Nouns -> pictograms: the shipped word table and the Twemoji pictures it points to.

``pictograms.tsv`` (built by ``scripts/build_pictograms.py`` from CLDR's emoji names and
keywords and a hand-picked list) maps an English noun, or a two-word name such as "stop
sign", to a Twemoji picture shipped in ``twemoji/`` (72 px PNGs; graphics by Twitter, Inc.
and other contributors, CC-BY 4.0, see ``twemoji/LICENSE.md``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

RGB = tuple[int, int, int]

#: The tinted, scaled pictograms kept for reuse (:func:`glyph`), at most this many bytes of
#: pixels; the least recently used go first. (A count bound alone allowed 4,096 of them,
#: up to a megabyte each at large image sizes.)
GLYPH_CACHE_BYTES = 16 * 2**20

_IRREGULAR = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "oxen": "ox", "wolves": "wolf",
    "knives": "knife", "leaves": "leaf", "loaves": "loaf", "shelves": "shelf", "cacti": "cactus",
}


@lru_cache(maxsize=1)
def table() -> dict[str, str]:
    """The shipped word -> Twemoji file stem table."""
    text = resources.files(__package__).joinpath("pictograms.tsv").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {word: stem for word, stem in rows}


def singular_forms(word: str) -> list[str]:
    """The word and the singulars it may be the plural of ("benches" -> "benche", "bench")."""
    forms = [word]
    if word in _IRREGULAR:
        forms.append(_IRREGULAR[word])
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("ves"):
        forms += [word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
    return forms


def lookup(words: list[str], i: int) -> tuple[str, str, int] | None:
    """The pictogram at ``words[i]``: (the noun as found, file stem, words used), or None.

    A two-word name ("teddy bear") wins over its last word; plurals find their singular."""
    known = table()
    if i + 1 < len(words):
        for last in singular_forms(words[i + 1]):
            pair = f"{words[i]} {last}"
            if pair in known:
                return pair, known[pair], 2
    for form in singular_forms(words[i]):
        if form in known:
            return form, known[form], 1
    return None


def is_plural(word: str) -> bool:
    """Whether a word found in the table only through a plural form."""
    return word not in table() and any(f in table() for f in singular_forms(word)[1:])


class ImageCache:
    """A least-recently-used cache of PIL images bounded by the bytes of their pixels
    (safe across threads). An image larger than the bound is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self.bytes = 0
        self._images: OrderedDict[Hashable, Image] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._images)

    @staticmethod
    def size(image: Image) -> int:
        """The bytes of ``image``'s pixels, counted at 4 a pixel (PIL's RGB and RGBA)."""
        return image.width * image.height * 4

    def get(self, key: Hashable) -> Image | None:
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
            return image

    def put(self, key: Hashable, image: Image) -> None:
        size = self.size(image)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._images.pop(key, None)
            if old is not None:
                self.bytes -= self.size(old)
            self._images[key] = image
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, dropped = self._images.popitem(last=False)
                self.bytes -= self.size(dropped)

    def clear(self) -> None:
        with self._lock:
            self._images.clear()
            self.bytes = 0


_glyphs = ImageCache(GLYPH_CACHE_BYTES)


def clear_caches() -> None:
    """Drop the pictograms kept for reuse (they are made again when next drawn)."""
    _glyphs.clear()
    _source.cache_clear()


@lru_cache(maxsize=1024)  # at most the shipped pictures (72 px, 20 KiB each)
def _source(stem: str) -> Image:
    from PIL import Image as PILImage

    with resources.files(__package__).joinpath("twemoji", f"{stem}.png").open("rb") as handle:
        return PILImage.open(handle).convert("RGBA")


def _tinted(image: Image, tint: RGB) -> Image:
    """Recolour a pictogram in ``tint``, keeping its shading (light parts light)."""
    from PIL import Image as PILImage

    rgba = np.asarray(image, np.float32)
    light = rgba[..., :3] @ np.array([0.3, 0.59, 0.11], np.float32) / 255.0
    shade = 0.35 + 0.9 * light / max(float(light[rgba[..., 3] > 0].max(initial=0.0)), 1e-3)
    rgb = np.clip(np.asarray(tint, np.float32) * shade[..., None], 0, 255)
    return PILImage.fromarray(np.dstack([rgb, rgba[..., 3:]]).astype(np.uint8), "RGBA")


def glyph(stem: str, pixels: int, tint: RGB | None = None, mirrored: bool = False) -> Image:
    """The pictogram ``stem`` as an RGBA image ``pixels`` wide, optionally tinted and
    mirrored (kept for reuse, up to :data:`GLYPH_CACHE_BYTES`; the caller must not change it)."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    key = (stem, pixels, tint, mirrored)
    image = _glyphs.get(key)
    if image is not None:
        return image
    image = _source(stem)
    if tint is not None:
        image = _tinted(image, tint)
    resample = PILImage.Resampling.BILINEAR if pixels > image.width else PILImage.Resampling.BOX
    image = image.resize((pixels, pixels), resample)
    if mirrored:
        image = ImageOps.mirror(image)
    _glyphs.put(key, image)
    return image
