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

from pasta_procedural import lexicon, pictograms

STYLE_NAMES = ("plain", "watercolor", "oil", "pixel", "sketch", "photo", "flat", "poster", "render", "mosaic")

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
    """One kind of thing to draw: its pictogram, tint, how many, and where.

    ``pictogram`` is a Twemoji file stem (see :mod:`pasta_procedural.pictograms`), or None
    for a prompt that names nothing drawable (an orb in the prompt's accent colour).
    ``relation`` is ("on" | "above" | "front" | "beside", index of the other subject): it
    stands on it, floats over it, stands at its foot, or stands next to it."""

    noun: str
    pictogram: str | None
    color: RGB | None
    count: int
    anchor: tuple[float, float] | None
    scale: float
    flying: bool = False
    relation: tuple[str, int] | None = None


@attrs.frozen
class Scene:
    """Everything the renderer needs, derived from the prompt alone.

    ``shown`` lists the prompt's words the picture shows, each with how: "pictogram" (a
    subject drawn as a pictogram), "colour" (a pictogram tinted), "scene" (background and
    its props), "style" or "weather".
    """

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
    props: tuple[tuple[str, int, bool], ...] = ()
    weather: tuple[str, ...] = ()
    shown: tuple[tuple[str, str], ...] = ()

    def attributes(self) -> dict[str, float]:
        """Numeric visual attributes of the scene (for planted user types and tests)."""
        return {
            "brightness": self.brightness,
            "saturation": self.saturation,
            "warmth": self.warmth,
            "detail": self.detail,
            "count": float(sum(s.count for s in self.subjects)),
            "scale": float(max((s.scale for s in self.subjects), default=1.0)),
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


# Words that set the background, style or weather are not drawn as subjects.
_NOT_SUBJECTS = (
    frozenset(lexicon.SCENES) | frozenset(lexicon.STYLES) | frozenset(lexicon.MOODS)
    | frozenset(lexicon.COLORS) | frozenset(lexicon.WEATHER) | frozenset(lexicon.COUNTS)
)
MAX_SUBJECTS = 4


class _Parser:
    """Reads subjects left to right; count, colour, place and size words apply to the next noun."""

    def __init__(self) -> None:
        self.subjects: list[Subject] = []
        self.shown: list[tuple[str, str]] = []
        self.count, self.color, self.anchor, self.scale = 1, None, None, 1.0
        self.color_word = ""
        self.relation: tuple[str, int] | None = None

    def modifier(self, word: str, after: str = "") -> bool:
        if word in ("left", "right") and after == "of" and self.subjects:
            # "X to the left of Y": X goes left, Y right.
            mine, other = lexicon.POSITIONS[word], lexicon.POSITIONS["right" if word == "left" else "left"]
            self.subjects[-1] = attrs.evolve(self.subjects[-1], anchor=mine, relation=None)
            self.anchor = other
        elif word in lexicon.RELATIONS and self.subjects:
            self.relation = (lexicon.RELATIONS[word], len(self.subjects) - 1)
        elif word in lexicon.COUNTS:
            self.count = lexicon.COUNTS[word]
        elif word in lexicon.COLORS:
            self.color, self.color_word = lexicon.COLORS[word], word
        elif word in lexicon.POSITIONS:
            self.anchor = lexicon.POSITIONS[word]
        elif word in lexicon.SIZES:
            self.scale *= lexicon.SIZES[word]
        else:
            return False
        return True

    def noun(self, words: list[str], i: int) -> int:
        """Add the subject at ``words[i]``, if any; the number of words it used (0: none)."""
        found = None if words[i] in _NOT_SUBJECTS else pictograms.lookup(words, i)
        if found is None or len(self.subjects) == MAX_SUBJECTS:
            return 0
        noun, stem, used = found
        following = pictograms.lookup(words, i + 1) if i + 1 < len(words) else None
        compound = following is not None and words[i + 1] not in _NOT_SUBJECTS
        if used == 1 and compound and noun not in lexicon.PLACES:
            return 1  # "wine bottles", "toy car": the last noun is the thing drawn ("harbour town": both)
        plural = pictograms.is_plural(words[i + used - 1])
        count = 3 if plural and self.count == 1 else self.count
        flying = noun in lexicon.FLYING
        subject = Subject(noun, stem, self.color, min(count, 9), self.anchor, self.scale, flying)
        self._relate(subject)
        self.shown += [(w, "pictogram") for w in words[i : i + used]]
        if self.color is not None:
            self.shown.append((self.color_word, "colour"))
        self.count, self.color, self.anchor, self.relation = 1, None, None, None
        return used

    def _relate(self, subject: Subject) -> None:
        if self.relation is not None and self.subjects[self.relation[1]].relation is None:
            kind, previous = self.relation
            new = len(self.subjects)
            self.subjects[previous] = attrs.evolve(self.subjects[previous], relation=(kind, new))
        self.subjects.append(subject)


def _scene_subject(words: list[str], parser: _Parser) -> list[Subject]:
    """A prompt that names only a scene ("a mountain", "a kitchen") shows its pictogram."""
    for i, word in enumerate(words):
        found = pictograms.lookup(words, i) if word in lexicon.SCENES else None
        if found is not None:
            parser.shown.append((word, "pictogram"))
            return [Subject(found[0], found[1], parser.color, parser.count, parser.anchor, 1.0)]
    return []


def _subjects(words: list[str], accent: RGB) -> tuple[tuple[Subject, ...], list[tuple[str, str]]]:
    parser = _Parser()
    i = 0
    while i < len(words):
        after = words[i + 1] if i + 1 < len(words) else ""
        used = 0 if parser.modifier(words[i], after) else parser.noun(words, i)
        i += max(used, 1)
    subjects = parser.subjects
    if subjects and parser.anchor is not None and subjects[-1].anchor is None:
        # A place after the last noun ("a cat on the left") places it.
        subjects[-1] = attrs.evolve(subjects[-1], anchor=parser.anchor, relation=None)
    if not subjects:
        subjects = _scene_subject(words, parser)
    if not subjects and not _props(words):
        # An abstract prompt still gets a subject: an orb in the prompt's accent colour.
        subjects = [Subject("", None, accent, parser.count, parser.anchor, parser.scale)]
    elif parser.scale != 1.0:  # a size word after the nouns ("a dog, close-up") sizes them all
        subjects = [attrs.evolve(s, scale=s.scale * parser.scale) for s in subjects]
    return tuple(subjects), parser.shown


def _props(words: list[str]) -> tuple[tuple[str, int, bool], ...]:
    table = pictograms.table()
    props = [lexicon.SCENE_PROPS[w] for w in dict.fromkeys(words) if w in lexicon.SCENE_PROPS]
    return tuple((table[noun], n, sky) for noun, n, sky in props[:2])


def _shown(words: list[str]) -> list[tuple[str, str]]:
    kinds = (("scene", lexicon.SCENES), ("style", lexicon.STYLES), ("weather", lexicon.WEATHER))
    return [(w, kind) for w in words for kind, words_of in kinds if w in words_of]


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
    subjects, shown = _subjects(words, accent)
    return Scene(
        sky=sky,
        ground=ground,
        horizon=horizon,
        subjects=subjects,
        style=style,
        brightness=brightness,
        saturation=saturation,
        warmth=warmth,
        detail=detail,
        accent=accent,
        pattern=prompt_hash % 4,
        props=_props(words),
        weather=tuple(dict.fromkeys(lexicon.WEATHER[w] for w in words if w in lexicon.WEATHER)),
        shown=tuple(dict.fromkeys(shown + _shown(words))),
    )
