"""HPS v2 (HPDv2): ``train.json`` [{prompt, file_path: [..], human_preference: [..]}] and
``test.json`` [{prompt, image_path: [..], rank: [..]}], images under an image folder.

Train: ``human_preference`` marks the preferred image(s) with 1; each entry becomes pairs
(preferred vs. each other image) and is its own sample (HPDv2 has no rater ids).
Test: ``rank`` is read as 1 = best (lower is better); pass ``higher_is_better=True`` if a
copy of the data uses the opposite direction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pasta_clip_em.datasets.records import PairRecord, RankingRecord
from pasta_clip_em.datasets.report import DatasetError, ReadReport


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read HPS v2 file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of entries")
    return data


def _images(entry: dict[str, Any], key: str, root: Path, location: str, report: ReadReport) -> list[Path] | None:
    names = entry.get(key)
    if not isinstance(names, list) or len(names) < 2 or not isinstance(entry.get("prompt"), str):
        report.problem(location, f"entry without prompt or {key}")
        return None
    paths = [root / str(n) for n in names]
    for path in paths:
        if not path.is_file():
            report.problem(location, f"missing image {path.name}")
            return None
    return paths


def read_hpsv2_train(json_path: str | Path, image_root: str | Path, report: ReadReport | None = None,
                     strict: bool = False) -> Iterator[PairRecord]:
    """Preference pairs from an HPS v2 train.json."""
    report = report if report is not None else ReadReport("hps-v2 train", strict)
    for n, entry in enumerate(_load(Path(json_path))):
        location = f"{json_path}:entry {n}"
        paths = _images(entry, "file_path", Path(image_root), location, report)
        if paths is None:
            continue
        preference = entry.get("human_preference")
        if not isinstance(preference, list) or len(preference) != len(paths) or max(preference) == min(preference):
            report.problem(location, "human_preference does not single out a preferred image")
            continue
        report.read += 1
        for a, pa in enumerate(preference):
            for b, pb in enumerate(preference):
                if pa > pb:
                    yield PairRecord(f"hps-{n}", entry["prompt"], paths[a], paths[b], 1.0, location)


def read_hpsv2_test(json_path: str | Path, image_root: str | Path, report: ReadReport | None = None,
                    strict: bool = False, higher_is_better: bool = False) -> Iterator[RankingRecord]:
    """Ranked image groups from an HPS v2 test.json (ranks returned with 1 = best)."""
    report = report if report is not None else ReadReport("hps-v2 test", strict)
    for n, entry in enumerate(_load(Path(json_path))):
        location = f"{json_path}:entry {n}"
        paths = _images(entry, "image_path", Path(image_root), location, report)
        if paths is None:
            continue
        ranks = entry.get("rank")
        if not isinstance(ranks, list) or len(ranks) != len(paths):
            report.problem(location, "rank does not match image_path")
            continue
        ranks = [float(r) for r in ranks]
        if higher_is_better:
            ranks = [max(ranks) + 1 - r for r in ranks]
        report.read += 1
        yield RankingRecord(entry["prompt"], tuple(paths), tuple(ranks), location)
