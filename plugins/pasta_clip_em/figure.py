"""The top images of each user type as one picture (the paper's Figure 4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def type_label(row: int, prior: float) -> str:
    """The label of the 0-based type ``row``, numbered from 1 as people count (and as the
    web app's belief panel and ``pasta run --user-type`` number types)."""
    return f"type {row + 1}  prior {prior:.2f}"


def top_images_picture(user_model: Any, items: Sequence[tuple[str, Any]], per_type: int = 6,
                       thumb: int = 96) -> Any:
    """One row per user type: the ``per_type`` images it scores highest among ``items``
    ((prompt, PIL image) pairs, each image judged against its own prompt)."""
    from PIL import Image, ImageDraw

    k = user_model.num_types
    scores = np.zeros((k, len(items)))
    by_prompt: dict[str, list[int]] = {}
    for n, (prompt, _) in enumerate(items):
        by_prompt.setdefault(prompt, []).append(n)
    for prompt, rows in by_prompt.items():
        scores[:, rows] = user_model.scores(prompt, [items[n][1] for n in rows])
    label_w, per_type = 150, min(per_type, len(items))
    canvas = Image.new("RGB", (label_w + per_type * (thumb + 4), k * (thumb + 4) + 4), "white")
    draw = ImageDraw.Draw(canvas)
    for row in range(k):
        y = 4 + row * (thumb + 4)
        draw.text((6, y + thumb // 2 - 6), type_label(row, float(user_model.prior[row])), fill="black")
        for col, n in enumerate(np.argsort(-scores[row])[:per_type]):
            image = items[int(n)][1].convert("RGB").resize((thumb, thumb))
            canvas.paste(image, (label_w + col * (thumb + 4), y))
    return canvas
