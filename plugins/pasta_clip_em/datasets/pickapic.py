"""Pick-a-Pic (v1/v2) parquet: caption, jpg_0, jpg_1 (encoded bytes), label_0, label_1
(0.5/0.5 is a tie), user_id, ranking_id, has_label, ... One sample per ``user_id``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pasta_clip_em.datasets.records import PairRecord
from pasta_clip_em.datasets.report import DatasetError, ReadReport

COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0", "label_1", "user_id", "has_label")
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM")


def looks_like_image(data: object) -> bool:
    """Cheap check of encoded image bytes (JPEG, PNG, GIF, WebP, BMP signatures)."""
    return isinstance(data, (bytes, bytearray)) and len(data) > 8 and bytes(data[:4]).startswith(_MAGIC)


def _files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files.extend(sorted(entry.rglob("*.parquet")))
        elif entry.is_file():
            files.append(entry)
        else:
            raise DatasetError(f"no Pick-a-Pic parquet file or folder at {entry}")
    return files


def _record(row: dict, location: str, report: ReadReport) -> PairRecord | None:
    if row.get("has_label") is False:
        return None
    caption = row.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        report.problem(location, "empty caption")
        return None
    if not (looks_like_image(row.get("jpg_0")) and looks_like_image(row.get("jpg_1"))):
        report.problem(location, "missing or corrupt image bytes")
        return None
    try:
        label_0, label_1 = float(row["label_0"]), float(row["label_1"])
    except (TypeError, ValueError, KeyError):
        report.problem(location, "missing label")
        return None
    if abs(label_0 + label_1 - 1) > 1e-6 or not 0 <= label_0 <= 1:
        report.problem(location, "labels do not sum to 1")
        return None
    user = row.get("user_id")
    return PairRecord(f"pickapic-user-{user}", caption, row["jpg_0"], row["jpg_1"], label_0, location)


def read_pickapic(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], report: ReadReport | None = None,
    strict: bool = False,
) -> Iterator[PairRecord]:
    """Stream preference pairs from Pick-a-Pic parquet files or folders."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    report = report if report is not None else ReadReport("pick-a-pic", strict)
    for file in _files(paths):
        try:
            parquet = pq.ParquetFile(file)
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError(f"{file} is not a readable Parquet file (corrupt or truncated?): "
                               f"{' '.join(str(exc).split())}") from None
        names = parquet.schema_arrow.names
        missing = [c for c in ("caption", "jpg_0", "jpg_1", "label_0", "label_1") if c not in names]
        if missing:
            raise DatasetError(f"{file} is not a Pick-a-Pic parquet file: no column(s) {missing}")
        row_number = 0
        for batch in parquet.iter_batches(columns=[c for c in COLUMNS if c in names], batch_size=512):
            for row in batch.to_pylist():
                record = _record(row, f"{file}:row {row_number}", report)
                row_number += 1
                if record is not None:
                    report.read += 1
                    yield record
