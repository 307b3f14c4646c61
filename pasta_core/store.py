"""The trajectory format: Parquet, one row per turn (documented in docs/data-format.md).

Rows of one session are contiguous and ordered by turn. Images live beside the Parquet
files and are referenced by relative path in ``image_refs``. Unknown extra columns are
kept by readers that want them (``pyarrow.parquet.read_table``) and ignored here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pasta_core.atomic import write_atomically
from pasta_core.errors import PastaError, SessionError
from pasta_core.types import Candidate, Trajectory, Turn

FORMAT_VERSION = 1
_CANDIDATE = pa.struct([("text", pa.string()), ("category", pa.string())])

SCHEMA = pa.schema(
    [
        ("session_id", pa.string()),
        ("turn", pa.int32()),
        ("initial_prompt", pa.string()),
        ("user_type", pa.int32()),
        ("candidates", pa.list_(_CANDIDATE)),
        ("slate", pa.list_(_CANDIDATE)),
        ("choice", pa.int32()),
        ("critique", pa.string()),
        ("reward", pa.float64()),
        ("seeds", pa.list_(pa.list_(pa.int64()))),
        ("image_refs", pa.list_(pa.list_(pa.string()))),
        ("satisfaction", pa.list_(pa.int8())),
        ("comparison", pa.string()),
        ("metadata", pa.string()),
        ("fallback", pa.string()),
    ],
    metadata={"pasta_format": str(FORMAT_VERSION)},
)


def _candidates(items: Sequence[Candidate]) -> list[dict[str, str]]:
    return [{"text": c.text, "category": c.category} for c in items]


def trajectory_rows(trajectory: Trajectory) -> list[dict[str, Any]]:
    """The Parquet rows (one per turn) of a trajectory."""
    metadata = json.dumps(trajectory.metadata, sort_keys=True)
    return [
        {
            "session_id": trajectory.session_id,
            "turn": index,
            "initial_prompt": trajectory.initial_prompt,
            "user_type": trajectory.user_type,
            "candidates": _candidates(turn.candidates),
            "slate": _candidates(turn.slate),
            "choice": turn.choice,
            "critique": turn.critique,
            "reward": turn.reward,
            "seeds": [list(s) for s in turn.seeds],
            "image_refs": [list(r) for r in turn.image_refs],
            "satisfaction": list(turn.satisfaction) if turn.satisfaction is not None else None,
            "comparison": turn.comparison,
            "metadata": metadata,
            "fallback": turn.fallback,
        }
        for index, turn in enumerate(trajectory.turns, start=1)
    ]


def to_table(trajectories: Iterable[Trajectory]) -> pa.Table:
    rows = [row for t in trajectories for row in trajectory_rows(t)]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def write_trajectories(path: str | os.PathLike[str], trajectories: Iterable[Trajectory]) -> Path:
    """Write trajectories to one Parquet file, atomically and durably (a crash or a power
    loss leaves the old file or the new one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = to_table(trajectories)
    return write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _turn(row: dict[str, Any]) -> Turn:
    return Turn(
        candidates=[Candidate(**c) for c in row["candidates"]],
        slate=[Candidate(**c) for c in row["slate"]],
        choice=int(row["choice"]),
        critique=row.get("critique"),
        reward=row.get("reward"),
        seeds=row.get("seeds") or (),
        image_refs=row.get("image_refs") or (),
        satisfaction=row.get("satisfaction"),
        comparison=row.get("comparison"),
        fallback=row.get("fallback"),
    )


def _trajectory(rows: list[dict[str, Any]]) -> Trajectory:
    first = rows[0]
    rows = sorted(rows, key=lambda r: r["turn"])
    return Trajectory(
        session_id=first["session_id"],
        initial_prompt=first["initial_prompt"],
        turns=[_turn(r) for r in rows],
        user_type=first.get("user_type"),
        metadata=json.loads(first.get("metadata") or "{}"),
    )


def parquet_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders (all ``*.parquet`` inside, sorted) into a file list."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files.extend(sorted(p for p in entry.rglob("*.parquet") if not p.name.startswith(".")))
        elif entry.is_file():
            files.append(entry)
        else:
            raise SessionError(f"no trajectory file or folder at {entry}")
    return files


#: Columns every trajectory file has; the others may be missing (older or smaller files).
REQUIRED_COLUMNS = ("session_id", "turn", "initial_prompt", "candidates", "slate", "choice")


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether a column of type ``actual`` reads as ``expected`` (string or large string,
    any integer width, lists of compatible items, the candidate struct; all-null columns)."""
    if pa.types.is_null(actual):
        return True
    if pa.types.is_string(expected):
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_floating(expected):
        return pa.types.is_floating(actual) or pa.types.is_integer(actual)
    if pa.types.is_list(expected):
        return (pa.types.is_list(actual) or pa.types.is_large_list(actual)) and _compatible(
            actual.value_type, expected.value_type)
    if pa.types.is_struct(expected):
        fields = {actual.field(i).name: actual.field(i).type for i in range(actual.num_fields)} \
            if pa.types.is_struct(actual) else {}
        return all(f.name in fields and _compatible(fields[f.name], f.type) for f in expected)
    return actual == expected


def check_schema(file: str | os.PathLike[str], schema: pa.Schema) -> list[str]:
    """The trajectory columns of a file with ``schema``; :class:`SessionError` naming the
    file if a required column is missing or a column has another type."""
    names = set(schema.names)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise SessionError(f"{file} is not a PASTA trajectory file: it lacks the columns {missing} "
                           "(the format is in docs/data-format.md)")
    for field in SCHEMA:
        if field.name in names and not _compatible(schema.field(field.name).type, field.type):
            raise SessionError(f"{file} is not a PASTA trajectory file: column {field.name!r} holds "
                               f"{schema.field(field.name).type}, not {field.type}")
    return [name for name in SCHEMA.names if name in names]


def _open(file: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(file)
    except (pa.ArrowException, OSError, ValueError) as exc:
        size = file.stat().st_size if file.is_file() else 0
        what = "is empty (0 bytes)" if size == 0 else "is not a readable Parquet file (corrupt or truncated?)"
        raise SessionError(f"{file} {what}: {' '.join(str(exc).split())}; restore it from a copy") from None


def read_trajectories(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], batch_size: int = 4096
) -> Iterator[Trajectory]:
    """Stream trajectories from Parquet files or folders, one session at a time; a file
    that is not a valid trajectory file raises :class:`SessionError` naming it."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for file in parquet_files(paths):
        parquet = _open(file)
        wanted = check_schema(file, parquet.schema_arrow)
        yield from _read_file(file, parquet, wanted, batch_size)


def _read_file(file: Path, parquet: pq.ParquetFile, columns: list[str], batch_size: int) -> Iterator[Trajectory]:
    pending: list[dict[str, Any]] = []
    try:
        for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
            for row in batch.to_pylist():
                if pending and row["session_id"] != pending[0]["session_id"]:
                    yield _checked(file, pending)
                    pending = []
                pending.append(row)
    except (pa.ArrowException, OSError, ValueError) as exc:  # ValueError: text that is not UTF-8
        raise SessionError(f"{file} could not be read (corrupt or truncated?): {' '.join(str(exc).split())}; "
                           "restore it from a copy") from None
    if pending:
        yield _checked(file, pending)


def _checked(file: Path, rows: list[dict[str, Any]]) -> Trajectory:
    try:
        return _trajectory(rows)
    except (PastaError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SessionError(f"{file}: session {rows[0].get('session_id')!r} breaks the trajectory format "
                           f"({exc}); restore the file from a copy") from None

