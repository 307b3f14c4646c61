"""``KIND:PATH[,IMAGE_FOLDER]`` dataset specs for the command line and the API.

Kinds: ``pickapic:FILE_OR_FOLDER``, ``hpsv2:TRAIN_JSON[,IMAGES]``,
``hpsv2-test:TEST_JSON[,IMAGES]``, ``sac:SQLITE[,IMAGES]``, ``trajectories:FILE_OR_FOLDER``,
``pasta:FILE_OR_FOLDER`` (the released PASTA data). The image folder defaults to the
folder of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pasta_core.errors import InvalidValueError

KINDS = ("pickapic", "hpsv2", "hpsv2-test", "sac", "trajectories", "pasta")


def parse_spec(spec: str) -> tuple[str, Path, Path]:
    """``"sac:db.sqlite,imgs"`` -> ("sac", Path("db.sqlite"), Path("imgs"))."""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in KINDS:
        raise InvalidValueError(f"dataset spec {spec!r} must be KIND:PATH with KIND one of {', '.join(KINDS)}")
    path, _, images = rest.partition(",")
    path_ = Path(path)
    return kind, path_, Path(images) if images else (path_ if path_.is_dir() else path_.parent)


def read_spec(spec: str, report: Any) -> tuple[str, Iterator[Any]]:
    """(record type: pairs|ratings|sessions|rankings, records) for one spec."""
    from pasta_clip_em import datasets as d

    kind, path, images = parse_spec(spec)
    if kind == "pickapic":
        return "pairs", d.read_pickapic(path, report=report)
    if kind == "hpsv2":
        return "pairs", d.read_hpsv2_train(path, images, report=report)
    if kind == "hpsv2-test":
        return "rankings", d.read_hpsv2_test(path, images, report=report)
    if kind == "sac":
        return "ratings", d.read_sac(path, images, report=report)
    if kind == "trajectories":
        return "sessions", d.read_sessions(path, report=report)
    return "sessions", d.read_pasta_release(path, report=report)


def collect(specs: list[str], strict: bool = False) -> tuple[Any, list[Any]]:
    """A LabelBuilder holding the labels of training ``specs``, and the read reports."""
    from pasta_clip_em.build import LabelBuilder
    from pasta_clip_em.datasets import ReadReport

    builder, reports = LabelBuilder(), []
    for spec in specs:
        report = ReadReport(spec, strict)
        kind, records = read_spec(spec, report)
        if kind == "rankings":
            raise InvalidValueError(f"{spec}: ranking data is for evaluation (pasta user-model eval)")
        {"pairs": builder.add_pairs, "ratings": builder.add_ratings, "sessions": builder.add_sessions}[kind](records)
        reports.append(report)
    return builder, reports


def build_labels(specs: list[str], cache: Any, strict: bool = False, progress: bool = False) -> tuple[Any, list[Any]]:
    """A LabelSet from training specs, and the read reports (one per spec)."""
    builder, reports = collect(specs, strict)
    return builder.build(cache, progress=progress), reports


def build_raw_labels(specs: list[str], strict: bool = False) -> tuple[Any, list[Any]]:
    """A RawLabelSet (prompts and image references, for fine-tuning) and the read reports."""
    builder, reports = collect(specs, strict)
    return builder.build_raw(), reports
