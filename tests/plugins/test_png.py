"""pasta_png: every 8-bit L, RGB and RGBA image decodes to itself, other modes go to
Pillow, and a file is written whole or not at all."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

import pasta_png as png
from pasta_png import png_bytes, save_png

CHANNELS = {"L": 1, "RGB": 3, "RGBA": 4}


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks.append((kind, body))
        at += 12 + length
    return chunks


@st.composite
def images(draw):
    mode = draw(st.sampled_from(sorted(CHANNELS)))
    width, height = draw(st.integers(1, 37)), draw(st.integers(1, 23))
    kind = draw(st.sampled_from(["noise", "flat", "extremes"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (height, width) if mode == "L" else (height, width, CHANNELS[mode])
    if kind == "noise":
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    elif kind == "flat":
        pixels = np.full(shape, rng.integers(0, 256), np.uint8)
    else:  # neighbours 0 and 255: the Sub filter's differences wrap around
        pixels = (rng.integers(0, 2, shape) * 255).astype(np.uint8)
    return Image.fromarray(pixels, mode)


@settings(max_examples=80, deadline=None)
@given(images(), st.sampled_from([0, 1, 6, 9]))
def test_every_8_bit_image_decodes_to_itself(image, level) -> None:
    data = png_bytes(image, level)
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    assert decoded.mode == image.mode and decoded.size == image.size
    assert np.array_equal(np.asarray(decoded), np.asarray(image))
    kinds = [kind for kind, _ in _chunks(data)]
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]  # written here, not by Pillow
    raw = zlib.decompress(_chunks(data)[1][1])
    stride = image.width * CHANNELS[image.mode] + 1
    assert len(raw) == image.height * stride and set(raw[::stride]) == {1}  # Sub on every row


def test_images_from_the_renderer_decode_to_themselves() -> None:
    from pasta_core import get_plugins

    t2i = get_plugins().create("t2i", "procedural")
    for image in t2i.render(["a red fox in the snow, oil painting", "a city at night, pixel art"], [0, 1]):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(image)))), np.asarray(image))


@pytest.mark.parametrize("mode", ["P", "LA", "1", "I;16"])
def test_other_modes_are_written_by_pillow(mode) -> None:
    image = Image.fromarray(np.arange(60, dtype=np.uint8).reshape(6, 10), "L").convert(mode)
    decoded = Image.open(io.BytesIO(png_bytes(image)))
    assert decoded.mode == image.mode and np.array_equal(np.asarray(decoded), np.asarray(image))


def test_a_mode_png_cannot_hold_is_refused_as_pillow_refuses_it() -> None:
    with pytest.raises(OSError, match="CMYK"):
        png_bytes(Image.new("CMYK", (2, 2)))


def test_an_icc_profile_or_a_transparency_key_is_kept() -> None:
    image = Image.new("RGB", (4, 3), (10, 200, 30))
    image.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert Image.open(io.BytesIO(png_bytes(image))).info["icc_profile"] == image.info["icc_profile"]
    keyed = Image.new("RGB", (4, 3), (10, 200, 30))
    keyed.info["transparency"] = (10, 200, 30)
    assert Image.open(io.BytesIO(png_bytes(keyed))).info["transparency"] == (10, 200, 30)


def test_save_png_writes_the_file_and_no_temporary(tmp_path) -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8))
    path = save_png(image, tmp_path / "deep" / "x.png")
    assert path == tmp_path / "deep" / "x.png"
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(image))
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]


def test_save_png_never_leaves_a_truncated_file(tmp_path, monkeypatch) -> None:
    image = Image.new("RGB", (8, 8), (1, 2, 3))

    def dies_half_way(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError("killed")

    monkeypatch.setattr(Path, "write_bytes", dies_half_way)
    with pytest.raises(OSError):
        save_png(image, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()

    monkeypatch.setattr(png, "png_bytes", lambda *a, **k: (_ for _ in ()).throw(ValueError("encoder died")))
    with pytest.raises(ValueError):
        save_png(image, tmp_path / "y.png")
    assert not list(tmp_path.glob("*y.png*"))
