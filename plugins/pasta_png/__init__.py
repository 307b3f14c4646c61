"""PNG files of 8-bit images, written faster than by Pillow's encoder: a library of
``pasta run`` and the latency bench (a session folder's ``encode``), the web app, the
simulator and the planted world; it registers nothing.

Pillow chooses a filter for every row by trying all five; that search, not zlib, is most
of its cost (figures against Pillow at ``compress_level=1`` are in docs/benchmarks.md;
``benchmarks/bench_png.py`` measures them). Here every row uses the Sub filter (each
byte minus the byte one pixel to its left), computed by numpy, and zlib compresses at
level 1. Both release the GIL, so a background writer runs beside a T2I model instead of
waiting for it.

Modes other than L, RGB and RGBA (16-bit, palette, 1-bit, LA), and images that carry an
ICC profile or a transparency key, are written by Pillow (:func:`pasta_core.folder.pillow_png`).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

from pasta_core.folder import pillow_png
from pasta_core.folder import save_png as save_picture

_COLOR_TYPE = {"L": 0, "RGB": 2, "RGBA": 6}  # PNG colour types, 8 bits per sample
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Sub filter: the type byte that starts every row.
_SUB = 1


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(image: Any, level: int = 1) -> bytes:
    """``image`` (a PIL image) encoded as PNG; ``level`` is zlib's (0-9; 1 is fast)."""
    import numpy as np

    color = _COLOR_TYPE.get(image.mode)
    if color is None or not image.width or not image.height or {"icc_profile", "transparency"} & set(image.info):
        return pillow_png(image, level)
    channels = len(image.mode)  # bytes per pixel: L 1, RGB 3, RGBA 4
    rows = np.asarray(image, dtype=np.uint8).reshape(image.height, image.width * channels)
    filtered = np.empty((image.height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = _SUB
    filtered[:, 1 : 1 + channels] = rows[:, :channels]
    np.subtract(rows[:, channels:], rows[:, :-channels], out=filtered[:, 1 + channels :])  # wraps mod 256
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, color, 0, 0, 0)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(filtered, level)),
                     _chunk(b"IEND", b"")))


def save_png(image: Any, path: str | os.PathLike[str], level: int = 1) -> Path:
    """Write ``image`` as PNG atomically, as a session folder does
    (:func:`pasta_core.folder.save_png`): the whole file or none, never a truncated one."""
    return save_picture(image, Path(path), lambda picture: png_bytes(picture, level))
