"""From prompt words to a scene description (what the renderer will draw).

The scene is deterministic in the prompt; the per-image seed only moves things around.
Its numeric attributes (warmth, brightness, saturation, object count, style, ...) are the
"visual attributes" that planted user types can have preferences over.
"""

from __future__ import annotations

import colorsys
import hashlib
import re

import attrs

from pasta_procedural import lexicon

STYLE_NAMES = ("plain", "watercolor", "oil", "pixel", "sketch", "photo", "flat", "poster", "render", "mosaic")
SHAPE_NAMES = ("animal", "person", "building", "plant", "vehicle", "orb", "object")

_TOKEN = re.compile(r"[a-z0-9][a-z0-9'\-]*")
RGB = tuple[int, int, int]


def tokens(prompt: str) -> list[str]:
    """Lower-case word tokens of a prompt."""
    return _TOKEN.findall(prompt.lower())


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _hue_color(hue: float, sat: float = 0.65, val: float = 0.85) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, sat, val)
    return (int(r * 255), int(g * 255), int(b * 255))


@attrs.frozen
class Subject:
    """One kind of thing to draw: its shape, colour, how many and where."""

    shape: str
    color: RGB
    count: int
    anchor: tuple[float, float]
    scale: float


@attrs.frozen
class Scene:
    """Everything the renderer needs, derived from the prompt alone."""

    sky: RGB
    ground: RGB
    horizon: float
    subjects: tuple[Subject, ...]
    style: str
    brightness: float
    saturation: float
    warmth: float
    detail: float
    accent: RGB
    pattern: int

    def attributes(self) -> dict[str, float]:
        """Numeric visual attributes of the scene (for planted user types and tests)."""
        return {
            "brightness": self.brightness,
            "saturation": self.saturation,
            "warmth": self.warmth,
            "detail": self.detail,
            "count": float(sum(s.count for s in self.subjects)),
            "scale": float(max(s.scale for s in self.subjects)),
            "style": float(STYLE_NAMES.index(self.style)),
        }


def _mood(words: list[str]) -> tuple[float, float, float]:
    brightness, saturation, warmth = 1.0, 1.0, 0.0
    for word in words:
        if word in lexicon.MOODS:
            b, s, w = lexicon.MOODS[word]
            brightness *= b
            saturation *= s
            warmth += w
    return min(max(brightness, 0.3), 1.6), min(max(saturation, 0.2), 2.0), max(-1.0, min(1.0, warmth))


def _background(words: list[str], seed_hash: int) -> tuple[RGB, RGB]:
    # Time-of-day and weather words win over places: "a street at night" is dark.
    for word in sorted(words, key=lambda w: w not in lexicon.TIMES):
        if word in lexicon.SCENES:
            return lexicon.SCENES[word]
    hue = (seed_hash % 1000) / 1000.0
    return _hue_color(hue, 0.25, 0.95), _hue_color(hue + 0.08, 0.35, 0.6)


def _subjects(words: list[str], accent: RGB) -> tuple[Subject, ...]:
    subjects: list[Subject] = []
    count, color, anchor, scale = 1, None, None, 1.0
    for word in words:
        if word in lexicon.COUNTS:
            count = lexicon.COUNTS[word]
        elif word in lexicon.COLORS:
            color = lexicon.COLORS[word]
        elif word in lexicon.POSITIONS:
            anchor = lexicon.POSITIONS[word]
        elif word in lexicon.SIZES:
            scale *= lexicon.SIZES[word]
        elif word in lexicon.SHAPES or word.rstrip("s") in lexicon.SHAPES:
            shape = lexicon.SHAPES.get(word) or lexicon.SHAPES[word.rstrip("s")]
            if word.endswith("s") and count == 1 and word not in lexicon.SHAPES:
                count = 3
            hue_color = _hue_color(_stable_hash(word) / 2**64)
            spot = anchor or (0.5 + 0.18 * (len(subjects) % 3 - 1), 0.6)
            subjects.append(Subject(shape, color or hue_color, min(count, 9), spot, scale))
            count, color, anchor = 1, None, None
    if not subjects:
        # An abstract prompt still gets a subject: an orb in the prompt's accent colour.
        subjects.append(Subject("orb", accent, count, anchor or (0.5, 0.55), scale))
    elif scale != 1.0:
        subjects = [attrs.evolve(s, scale=s.scale * scale) for s in subjects]
    return tuple(subjects[:4])


def describe(prompt: str) -> Scene:
    """The scene a prompt describes."""
    words = tokens(prompt)
    prompt_hash = _stable_hash(" ".join(words))
    accent = _hue_color((prompt_hash >> 16) % 997 / 997.0, 0.8, 0.9)
    sky, ground = _background(words, prompt_hash)
    style = next((lexicon.STYLES[w] for w in words if w in lexicon.STYLES), "plain")
    brightness, saturation, warmth = _mood(words)
    detail = min(1.0, 0.15 + 0.35 * sum(w in lexicon.DETAIL_WORDS for w in words) + 0.02 * len(words))
    horizon = 0.35 if any(w in ("sky", "flying", "space") for w in words) else 0.62
    return Scene(
        sky=sky,
        ground=ground,
        horizon=horizon,
        subjects=_subjects(words, accent),
        style=style,
        brightness=brightness,
        saturation=saturation,
        warmth=warmth,
        detail=detail,
        accent=accent,
        pattern=prompt_hash % 4,
    )
