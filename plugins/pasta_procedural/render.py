"""Draw a :class:`~pasta_procedural.scene.Scene` into a PIL image.

Background gradient, decorations, subjects, then a style pass and the mood's colour
grading. The seed moves subjects and decorations and varies sizes, so the M images of a
prompt differ while keeping the prompt's content.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from pasta_procedural.scene import RGB, Scene, Subject


def _background(scene: Scene, size: int, rng: np.random.Generator) -> np.ndarray:
    horizon = int(size * (scene.horizon + rng.uniform(-0.05, 0.05)))
    t_sky = np.linspace(0.0, 1.0, max(horizon, 1))[:, None]
    t_ground = np.linspace(0.0, 1.0, max(size - horizon, 1))[:, None]
    sky_top = np.array(scene.sky, dtype=np.float32)
    sky_low = sky_top * 0.75 + 255 * 0.25
    ground_top = np.array(scene.ground, dtype=np.float32)
    ground_low = ground_top * 0.7
    sky = sky_top * (1 - t_sky) + sky_low * t_sky
    ground = ground_top * (1 - t_ground) + ground_low * t_ground
    column = np.concatenate([sky, ground])[:size]
    return np.broadcast_to(column[:, None, :], (size, size, 3)).copy()


def _decorate(draw: ImageDraw.ImageDraw, scene: Scene, size: int, rng: np.random.Generator) -> None:
    n = int(4 + 26 * scene.detail)
    accent = (*scene.accent, 150)
    for _ in range(n):
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(1.5, 4 + 8 * (1 - scene.detail))
        if scene.pattern == 0:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=accent)
        elif scene.pattern == 1:
            draw.line([x - 2 * r, y, x + 2 * r, y + r], fill=accent, width=2)
        elif scene.pattern == 2:
            draw.rectangle([x - r, y - r, x + r, y + r], outline=accent, width=1)
        else:
            draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=accent)


def _shade(color: RGB, factor: float) -> RGB:
    return tuple(int(max(0, min(255, c * factor))) for c in color)  # type: ignore[return-value]


def _draw_subject(draw: ImageDraw.ImageDraw, s: Subject, cx: float, cy: float, r: float) -> None:
    fill, dark, light = s.color, _shade(s.color, 0.6), _shade(s.color, 1.3)
    if s.shape == "animal":
        draw.ellipse([cx - r, cy - 0.6 * r, cx + r, cy + 0.6 * r], fill=fill, outline=dark, width=2)
        hx, hy, hr = cx + 0.85 * r, cy - 0.6 * r, 0.45 * r
        draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=fill, outline=dark, width=2)
        draw.polygon([(hx - hr, hy - 0.5 * hr), (hx - 0.4 * hr, hy - 1.6 * hr), (hx, hy - hr)], fill=dark)
        for leg in (-0.6, -0.2, 0.3, 0.7):
            draw.line([cx + leg * r, cy + 0.4 * r, cx + leg * r, cy + r], fill=dark, width=3)
    elif s.shape == "person":
        draw.ellipse([cx - 0.3 * r, cy - 1.3 * r, cx + 0.3 * r, cy - 0.7 * r], fill=light, outline=dark)
        draw.rounded_rectangle([cx - 0.4 * r, cy - 0.7 * r, cx + 0.4 * r, cy + 0.5 * r], 0.2 * r, fill=fill)
        draw.line([cx - 0.2 * r, cy + 0.5 * r, cx - 0.3 * r, cy + r], fill=dark, width=3)
        draw.line([cx + 0.2 * r, cy + 0.5 * r, cx + 0.3 * r, cy + r], fill=dark, width=3)
    elif s.shape == "building":
        draw.rectangle([cx - 0.6 * r, cy - 1.2 * r, cx + 0.6 * r, cy + r], fill=fill, outline=dark, width=2)
        draw.polygon([(cx - 0.75 * r, cy - 1.2 * r), (cx, cy - 1.8 * r), (cx + 0.75 * r, cy - 1.2 * r)], fill=dark)
        for wx in (-0.3, 0.3):
            for wy in (-0.8, -0.2, 0.4):
                draw.rectangle([cx + (wx - 0.12) * r, cy + wy * r, cx + (wx + 0.12) * r, cy + (wy + 0.25) * r], fill=light)
    elif s.shape == "plant":
        draw.rectangle([cx - 0.1 * r, cy - 0.2 * r, cx + 0.1 * r, cy + r], fill=_shade((110, 75, 40), 1.0))
        draw.ellipse([cx - 0.8 * r, cy - 1.4 * r, cx + 0.8 * r, cy + 0.1 * r], fill=fill, outline=dark, width=2)
    elif s.shape == "vehicle":
        draw.rounded_rectangle([cx - r, cy - 0.5 * r, cx + r, cy + 0.3 * r], 0.25 * r, fill=fill, outline=dark, width=2)
        draw.rectangle([cx - 0.5 * r, cy - 0.9 * r, cx + 0.4 * r, cy - 0.5 * r], fill=light)
        for wx in (-0.6, 0.6):
            draw.ellipse([cx + (wx - 0.22) * r, cy + 0.1 * r, cx + (wx + 0.22) * r, cy + 0.55 * r], fill=(30, 30, 30))
    elif s.shape == "orb":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=dark, width=2)
        draw.ellipse([cx - 0.55 * r, cy - 0.6 * r, cx - 0.15 * r, cy - 0.2 * r], fill=light)
    else:
        draw.polygon([(cx - 0.6 * r, cy - r), (cx + 0.6 * r, cy - r), (cx + 0.8 * r, cy + r), (cx - 0.8 * r, cy + r)], fill=fill, outline=dark)
        draw.ellipse([cx - 0.6 * r, cy - 1.15 * r, cx + 0.6 * r, cy - 0.85 * r], fill=light, outline=dark)


def _draw_subjects(draw: ImageDraw.ImageDraw, scene: Scene, size: int, rng: np.random.Generator) -> None:
    for subject in scene.subjects:
        base = size * 0.16 * subject.scale / np.sqrt(max(subject.count, 1)) ** 0.8
        for i in range(subject.count):
            spread = 0.08 + 0.1 * min(subject.count - 1, 4)
            ax, ay = subject.anchor
            x = size * (ax + rng.normal(0, spread) + (i - (subject.count - 1) / 2) * 0.12)
            y = size * (ay + rng.normal(0, 0.04))
            r = base * rng.uniform(0.8, 1.2)
            _draw_subject(draw, subject, float(np.clip(x, 0.1 * size, 0.9 * size)), y, r)


def _style(image: Image.Image, style: str, rng: np.random.Generator) -> Image.Image:
    if style == "watercolor":
        image = image.filter(ImageFilter.GaussianBlur(2.5))
        noise = rng.normal(0, 10, (image.height, image.width, 1))
        return Image.fromarray(np.clip(np.asarray(image, np.float32) * 0.9 + 25 + noise, 0, 255).astype(np.uint8))
    if style == "oil":
        return image.filter(ImageFilter.ModeFilter(5)).filter(ImageFilter.EDGE_ENHANCE_MORE)
    if style == "pixel":
        small = image.resize((image.width // 8, image.height // 8), Image.Resampling.BILINEAR)
        return small.quantize(24).convert("RGB").resize(image.size, Image.Resampling.NEAREST)
    if style == "sketch":
        edges = ImageOps.invert(ImageOps.grayscale(image).filter(ImageFilter.FIND_EDGES))
        return ImageOps.autocontrast(edges).convert("RGB")
    if style == "photo":
        image = image.filter(ImageFilter.GaussianBlur(1.2))
        y, x = np.ogrid[-1 : 1 : image.height * 1j, -1 : 1 : image.width * 1j]
        vignette = (1 - 0.35 * (x**2 + y**2))[..., None]
        return Image.fromarray(np.clip(np.asarray(image, np.float32) * vignette, 0, 255).astype(np.uint8))
    if style == "flat":
        return ImageOps.posterize(image, 3).filter(ImageFilter.SMOOTH)
    if style == "poster":
        return ImageOps.posterize(ImageOps.autocontrast(image), 2)
    if style == "render":
        return image.filter(ImageFilter.SMOOTH_MORE).filter(ImageFilter.DETAIL)
    if style == "mosaic":
        small = image.resize((image.width // 12, image.height // 12), Image.Resampling.BOX)
        big = small.resize(image.size, Image.Resampling.NEAREST)
        grid = np.asarray(big, np.float32)
        grid[::12, :, :] *= 0.4
        grid[:, ::12, :] *= 0.4
        return Image.fromarray(grid.astype(np.uint8))
    return image


def _grade(image: Image.Image, scene: Scene) -> Image.Image:
    if scene.warmth:
        arr = np.asarray(image, np.float32)
        shift = np.array([1 + 0.18 * scene.warmth, 1.0, 1 - 0.18 * scene.warmth], np.float32)
        image = Image.fromarray(np.clip(arr * shift, 0, 255).astype(np.uint8))
    if scene.saturation != 1.0:
        image = ImageEnhance.Color(image).enhance(scene.saturation)
    if scene.brightness != 1.0:
        image = ImageEnhance.Brightness(image).enhance(scene.brightness)
    return image


def render_scene(scene: Scene, seed: int, size: int = 256) -> Image.Image:
    """Render ``scene`` at ``size`` x ``size`` pixels with the image seed ``seed``."""
    rng = np.random.default_rng(seed)
    canvas = Image.fromarray(_background(scene, size, rng).astype(np.uint8)).convert("RGBA")
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    _decorate(draw, scene, size, rng)
    _draw_subjects(draw, scene, size, rng)
    image = Image.alpha_composite(canvas, layer).convert("RGB")
    return _grade(_style(image, scene.style, rng), scene)
