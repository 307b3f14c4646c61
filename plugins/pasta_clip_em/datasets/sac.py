"""Simulacra Aesthetic Captions: a sqlite file with tables generations(id, sid, method,
prompt), images(id, gid, idx), paths(iid, path), ratings(sid, iid, rating) (1-10), and an
image folder. One sample per rating ``sid`` (a rater session)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pasta_clip_em.datasets.records import RatingRecord
from pasta_clip_em.datasets.report import DatasetError, ReadReport

QUERY = """
SELECT r.rowid, r.sid, r.rating, g.prompt, p.path
FROM ratings r
LEFT JOIN images i ON i.id = r.iid
LEFT JOIN generations g ON g.id = i.gid
LEFT JOIN paths p ON p.iid = r.iid
ORDER BY r.rowid
"""


def read_sac(sqlite_path: str | Path, image_root: str | Path, report: ReadReport | None = None,
             strict: bool = False) -> Iterator[RatingRecord]:
    """Ratings from a SAC sqlite database, images resolved under ``image_root``."""
    report = report if report is not None else ReadReport("sac", strict)
    if not Path(sqlite_path).is_file():
        raise DatasetError(f"no SAC sqlite file at {sqlite_path}")
    connection = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        rows = connection.execute(QUERY)
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise DatasetError(f"{sqlite_path} is not a SAC database: {exc}") from exc
    try:
        for rowid, sid, rating, prompt, path in rows:
            location = f"{sqlite_path}:ratings row {rowid}"
            if prompt is None or path is None:
                report.problem(location, "rating of an unknown image")
                continue
            if not isinstance(rating, (int, float)) or not 1 <= rating <= 10:
                report.problem(location, "rating outside 1-10")
                continue
            image = Path(image_root) / path
            if not image.is_file():
                report.problem(location, f"missing image {path}")
                continue
            report.read += 1
            yield RatingRecord(f"sac-{sid}", prompt, image, float(rating), location)
    finally:
        connection.close()
