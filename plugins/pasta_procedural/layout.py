"""Where each pictogram goes: subjects on the ground (the first, the main one, in the middle
and largest), flying things in the sky, "X on Y" stacked ("above", "under", "beside" too),
a scene's props along the horizon.

The image seed moves and mirrors things; the prompt fixes what is drawn and how big.
"""

from __future__ import annotations

import attrs
import numpy as np

from pasta_procedural.scene import RGB, Scene, Subject

PER_ROW = 4


@attrs.frozen
class Placement:
    """One pictogram (or orb, when ``pictogram`` is None) at a pixel box; ``subject`` is the
    index of the scene subject it draws, -1 for a scene prop."""

    pictogram: str | None
    color: RGB | None
    left: int
    top: int
    pixels: int
    mirrored: bool
    subject: int


def _slots(k: int) -> list[float]:
    """k evenly spaced x positions (fractions of the width), the most central first."""
    xs = [0.1 + 0.8 * (j + 0.5) / k for j in range(k)]
    return sorted(xs, key=lambda x: (abs(x - 0.5), x))


def _pixels(subject: Subject, index: int, crowd: int, size: int, carries: bool = False) -> int:
    # The main subject is largest; what another subject stands on or in front of is larger.
    role = 1.25 if carries else 1.0 if index == 0 else 0.75
    shrink = {0: 1.0, 1: 1.0, 2: 0.82}.get(crowd, 0.66)
    rows = min(subject.count, PER_ROW)
    px = size * 0.42 * subject.scale * role * shrink / rows**0.5
    return int(np.clip(px, 0.07 * size, 0.9 * size)) // 2 * 2


def _related(
    kind: str, other: tuple[float, float, int], px: int, size: int, rng: np.random.Generator
) -> tuple[float, float, int]:
    """(centre x, bottom y, pixels) of a subject on, above, in front of or beside ``other``."""
    cx, bottom, below = other
    side = 1 if rng.random() < 0.5 else -1
    if kind == "on":
        return cx + rng.normal(0, 0.01 * size), bottom - 0.55 * below, px
    if kind == "above":
        return cx + rng.normal(0, 0.02 * size), bottom - below - 0.04 * size, px
    if kind == "front":
        return cx + side * 0.3 * below, bottom + 0.04 * size, px
    return cx + side * 0.5 * (below + px), bottom, px


def _bases(scene: Scene, size: int, rng: np.random.Generator) -> dict[int, tuple[float, float, int]]:
    """Each subject's (centre x, bottom y, pixels) before copies are spread."""
    subjects = scene.subjects
    ground = [j for j, s in enumerate(subjects) if s.relation is None and not s.flying]
    flying = [j for j, s in enumerate(subjects) if s.relation is None and s.flying]
    floor = size * (scene.horizon + (1 - scene.horizon) * 0.62)
    carriers = {s.relation[1] for s in subjects if s.relation is not None and s.relation[0] in ("on", "front")}
    bases: dict[int, tuple[float, float, int]] = {}
    for group, y in ((ground, floor), (flying, size * 0.34)):
        for j, x in zip(group, _slots(len(group))):
            px = _pixels(subjects[j], j, len(ground), size, j in carriers)
            cx, bottom = size * (x + rng.normal(0, 0.03)), y + rng.normal(0, 0.02 * size)
            if subjects[j].anchor is not None:
                cx, bottom = size * subjects[j].anchor[0], size * subjects[j].anchor[1] + px / 2
            bases[j] = (cx, bottom if group is ground else min(bottom, y + px / 2), px)
    for _ in range(len(subjects)):  # related subjects, once the other one is placed
        for j, s in enumerate(subjects):
            if j not in bases and s.relation is not None and s.relation[1] in bases:
                bases[j] = _related(s.relation[0], bases[s.relation[1]], _pixels(s, j, len(ground), size), size, rng)
    for j, s in enumerate(subjects):  # a cycle of relations: put them on the ground
        bases.setdefault(j, (size * rng.uniform(0.2, 0.8), floor, _pixels(s, j, len(ground), size)))
    return bases


def subject_placements(scene: Scene, size: int, rng: np.random.Generator) -> list[Placement]:
    """Every copy of every subject, in drawing order (back rows first, stacked things last)."""
    placed: list[tuple[tuple[int, float], Placement]] = []
    for j, (cx, bottom, px) in sorted(_bases(scene, size, rng).items()):
        s = scene.subjects[j]
        mirrored = bool(rng.random() < 0.5)
        for c in range(s.count):
            row, col = divmod(c, PER_ROW)
            in_row = min(s.count - row * PER_ROW, PER_ROW)
            x = cx + (col - (in_row - 1) / 2) * 0.9 * px + rng.normal(0, 0.015 * size)
            y = bottom - row * 0.45 * px + rng.normal(0, 0.01 * size)
            x = float(np.clip(x, px / 2, size - px / 2)) if px < size else size / 2
            place = Placement(s.pictogram, s.color, int(x - px / 2), int(y - px), px, mirrored, j)
            placed.append(((int(s.relation is not None), y), place))
    return [p for _, p in sorted(placed, key=lambda item: item[0])]


def prop_placements(scene: Scene, size: int, rng: np.random.Generator) -> list[Placement]:
    """A scene's props: small pictograms along the horizon, or in the sky."""
    placed = []
    horizon = size * scene.horizon
    for stem, count, sky in scene.props:
        px = int(size * (0.16 if sky else 0.17)) // 2 * 2
        for c in range(count):
            if sky:
                x = size * rng.uniform(0.62, 0.86) if count == 1 else size * rng.uniform(0.05, 0.95)
                y = size * rng.uniform(0.1, 0.2) if count == 1 else rng.uniform(0.05, 0.8) * horizon
                top = int(y - px / 2)
            else:
                x = size * (0.05 + 0.9 * (c + rng.uniform(0.2, 0.8)) / count)
                top = int(horizon + px * 0.3 - px + rng.normal(0, 0.01 * size))
            placed.append(Placement(stem, None, int(x - px / 2), top, px, bool(rng.random() < 0.5), -1))
    return placed
