"""Draw a :class:`~pasta_procedural.scene.Scene` into a PIL image.

Background gradient, stars, decorations, the scene's props, the subjects' pictograms, rain,
snow or fog, then a style pass and the mood's colour grading. The seed moves subjects and decorations and varies sizes, so the M images of a
prompt differ while keeping the prompt's content.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from pasta_procedural import pictograms
from pasta_procedural.layout import Placement, prop_placements, subject_placements
from pasta_procedural.scene import RGB, Scene


def _background(scene: Scene, size: int, rng: np.random.Generator) -> Image.Image:
    horizon = int(size * (scene.horizon + rng.uniform(-0.05, 0.05)))
    t_sky = np.linspace(0.0, 1.0, max(horizon, 1))[:, None]
    t_ground = np.linspace(0.0, 1.0, max(size - horizon, 1))[:, None]
    sky_top = np.array(scene.sky, dtype=np.float32)
    sky_low = sky_top * 0.75 + 255 * 0.25
    ground_top = np.array(scene.ground, dtype=np.float32)
    ground_low = ground_top * 0.7
    sky = sky_top * (1 - t_sky) + sky_low * t_sky
    ground = ground_top * (1 - t_ground) + ground_low * t_ground
    column = np.concatenate([sky, ground])[:size].astype(np.uint8)
    return Image.fromarray(column[:, None, :]).resize((size, size), Image.Resampling.NEAREST)


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


def _draw(canvas: Image.Image, place: Placement) -> None:
    if place.pictogram is not None:
        glyph = pictograms.glyph(place.pictogram, place.pixels, place.color, place.mirrored)
        canvas.paste(glyph, (place.left, place.top), glyph)
        return
    # A prompt with nothing drawable: an orb in its accent colour.
    color = place.color or (200, 200, 200)
    r, cx, cy = place.pixels / 2, place.left + place.pixels / 2, place.top + place.pixels / 2
    draw = ImageDraw.Draw(canvas)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color, outline=_shade(color, 0.6), width=2)
    draw.ellipse([cx - 0.55 * r, cy - 0.6 * r, cx - 0.15 * r, cy - 0.2 * r], fill=_shade(color, 1.3))


def _stars(draw: ImageDraw.ImageDraw, scene: Scene, size: int, rng: np.random.Generator) -> None:
    for x, y in rng.uniform(0, 1, (int(12 + size / 8), 2)):
        r = max(size / 256, 0.6)
        y *= size * scene.horizon * 0.95
        draw.ellipse([x * size - r, y - r, x * size + r, y + r], fill=(255, 250, 220, 230))


def _precipitation(image: Image.Image, kind: str, size: int, rng: np.random.Generator) -> Image.Image:
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for x, y in rng.uniform(0, size, (int(30 + size / 4), 2)):
        if kind == "rain":
            draw.line([x, y, x - size * 0.02, y + size * 0.06], fill=(200, 215, 235, 150), width=1)
        else:
            r = max(size / 160, 0.8)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, 220))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def _fog(image: Image.Image) -> Image.Image:
    """A haze, thicker far away (towards the top): things stay visible, softer and paler."""
    arr = np.asarray(image, np.float32)
    alpha = np.linspace(0.55, 0.3, image.height, dtype=np.float32)[:, None, None]
    haze = np.array([205, 210, 215], np.float32)
    return Image.fromarray((arr * (1 - alpha) + haze * alpha).astype(np.uint8))


def _style(image: Image.Image, style: str, rng: np.random.Generator) -> Image.Image:
    if style == "watercolor":
        image = image.filter(ImageFilter.GaussianBlur(2.5))
        noise = rng.normal(0, 10, (image.height, image.width, 1))
        return Image.fromarray(np.clip(np.asarray(image, np.float32) * 0.9 + 25 + noise, 0, 255).astype(np.uint8))
    if style == "oil":
        # Flattened strokes: a median at half size, enlarged again (the look of a 5 px mode
        # filter at a small part of its cost), then the edges enhanced.
        strokes = image.reduce(2).filter(ImageFilter.MedianFilter(3))
        return strokes.resize(image.size, Image.Resampling.BILINEAR).filter(ImageFilter.EDGE_ENHANCE_MORE)
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


def _weather(image: Image.Image, scene: Scene, size: int, rng: np.random.Generator) -> Image.Image:
    for kind in ("rain", "snow"):
        if kind in scene.weather:
            image = _precipitation(image, kind, size, rng)
    return _fog(image) if "fog" in scene.weather else image


def render_placed(scene: Scene, seed: int, size: int = 256) -> tuple[Image.Image, list[Placement]]:
    """Render ``scene`` at ``size`` x ``size`` pixels with the image seed ``seed``; also
    return where each pictogram went (props first, then subjects, in drawing order)."""
    rng = np.random.default_rng(seed)
    image = _background(scene, size, rng)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if "stars" in scene.weather:
        _stars(draw, scene, size, rng)
    _decorate(draw, scene, size, rng)
    image.paste(layer, (0, 0), layer)
    placements = prop_placements(scene, size, rng) + subject_placements(scene, size, rng)
    for place in placements:
        _draw(image, place)
    image = _weather(image, scene, size, rng)
    return _grade(_style(image, scene.style, rng), scene), placements


def render_scene(scene: Scene, seed: int, size: int = 256) -> Image.Image:
    """Render ``scene`` at ``size`` x ``size`` pixels with the image seed ``seed``."""
    return render_placed(scene, seed, size)[0]
