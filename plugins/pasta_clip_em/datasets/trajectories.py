"""This project's trajectory Parquet (read with :func:`pasta_core.store.read_trajectories`),
with image references resolved to absolute paths and missing images reported."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

from pasta_clip_em.datasets.report import ReadReport
from pasta_core.types import Trajectory


def resolve_images(trajectory: Trajectory, base: Path, report: ReadReport, location: str) -> Trajectory | None:
    """The trajectory with absolute image paths; None (reported) if an image is missing."""
    turns = []
    for n, turn in enumerate(trajectory.turns, start=1):
        refs = [[str(Path(r) if Path(r).is_absolute() else base / r) for r in column] for column in turn.image_refs]
        if not refs:
            report.problem(f"{location} turn {n}", "turn without image references")
            return None
        for ref in (r for column in refs for r in column):
            if not Path(ref).is_file():
                report.problem(f"{location} turn {n}", f"missing image {ref}")
                return None
        turns.append(attrs.evolve(turn, image_refs=refs))
    return attrs.evolve(trajectory, turns=turns)


def read_sessions(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                  report: ReadReport | None = None, strict: bool = False) -> Iterator[Trajectory]:
    """Trajectories from Parquet files or folders, images resolved beside each file."""
    from pasta_core.store import parquet_files, read_trajectories

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    report = report if report is not None else ReadReport("trajectories", strict)
    for file in parquet_files(paths):
        for trajectory in read_trajectories(file):
            resolved = resolve_images(trajectory, file.parent, report, f"{file}:session {trajectory.session_id}")
            if resolved is not None and resolved.turns:
                report.read += 1
                yield resolved
