"""One labelled picture of a turn: the slate's columns side by side, M images each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pasta_core.types import Column

if TYPE_CHECKING:
    from PIL.Image import Image

_HEADER = 40
_GAP = 8


def slate_grid(columns: Sequence[Column], cell: int = 192, title: str | None = None) -> Image:
    """Columns left to right, labelled 1..L on top, images top to bottom."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    rows = max(len(c.images) for c in columns)
    top = _HEADER + (_HEADER if title else 0)
    width = len(columns) * (cell + _GAP) + _GAP
    height = top + rows * (cell + _GAP) + _GAP
    canvas = PILImage.new("RGB", (width, height), (248, 248, 246))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=24)
    if title:
        draw.text((_GAP, 8), title, fill=(40, 40, 40), font=font)
    for c, column in enumerate(columns):
        x = _GAP + c * (cell + _GAP)
        draw.text((x + cell // 2 - 6, top - _HEADER + 6), str(c + 1), fill=(20, 20, 120), font=font)
        for r, image in enumerate(column.images):
            # Box filtering (area average) shrinks well at a third of bicubic's cost.
            shrink = image.width >= cell and image.height >= cell
            thumb = image.convert("RGB").resize((cell, cell), PILImage.Resampling.BOX if shrink else None)
            canvas.paste(thumb, (x, top + r * (cell + _GAP)))
    return canvas
