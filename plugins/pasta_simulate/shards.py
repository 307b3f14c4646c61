"""The shard files of a simulation and the manifest beside them.

A shard (``part-NNNNN.parquet``) holds trajectory rows in the format of
:mod:`pasta_core.store`, plus an ``image_embeddings`` column when embeddings are kept:
per turn, L x M vectors of the rendered images (float16). Every file is written
atomically and durably (:mod:`pasta_core.atomic`), so a reader (or a rerun) never sees half
a shard, even after a power loss.

The manifest (``simulation.json``) holds the run's settings and, under ``"shards"``, each
finished shard's row count, size and SHA-256, recorded as it is written. A rerun verifies
every shard it would skip (:func:`unfinished_shards`): one that no longer matches its
record (truncated, corrupt, replaced) is removed and computed again. A shard with no record
(from a manifest written before records were kept, or one a kill left unrecorded) is read
whole and must hold the sessions it should.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pasta_core.atomic import write_atomically, write_bytes, write_json
from pasta_core.errors import SessionError
from pasta_core.store import to_table
from pasta_core.types import Trajectory

MANIFEST = "simulation.json"
EMBEDDING_COLUMN = "image_embeddings"
#: The manifest's key of the shard records (file name -> rows, bytes, sha256).
SHARDS = "shards"

log = logging.getLogger("pasta_simulate")


def shard_name(index: int) -> str:
    """The file name of shard ``index`` (0-based): ``part-00000.parquet``, ..."""
    return f"part-{index:05d}.parquet"


def finished_shards(folder: str | os.PathLike[str]) -> list[int]:
    """The numbers of the shard files in ``folder``, sorted."""
    return sorted(int(p.stem.split("-")[1]) for p in Path(folder).glob("part-*.parquet"))


def embedding_array(rows: Sequence[np.ndarray | None]) -> pa.Array:
    """A list<list<fixed_size_list<halffloat>>> column: per row, L columns of M vectors."""
    present = [r for r in rows if r is not None]
    dim = present[0].shape[-1] if present else 1
    flat = np.concatenate([r.reshape(-1) for r in present]) if present else np.zeros(0, np.float16)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat.astype(np.float16), pa.float16()), dim)
    m_offsets, l_offsets, cursor_v, cursor_m = [0], [0], 0, 0
    for r in present:
        for _ in range(r.shape[0]):
            cursor_v += r.shape[1]
            m_offsets.append(cursor_v)
        cursor_m += r.shape[0]
        l_offsets.append(cursor_m)
    columns = pa.ListArray.from_arrays(pa.array(m_offsets, pa.int32()), vectors)
    return pa.ListArray.from_arrays(pa.array(l_offsets, pa.int32()), columns)


def shard_table(trajectories: Sequence[Trajectory], embeddings: list[np.ndarray] | None = None,
                extra: dict[str, pa.Array] | None = None) -> pa.Table:
    """The rows of one shard: trajectories, optional embeddings and extra columns."""
    table = to_table(trajectories)
    if embeddings is not None:
        table = table.append_column(EMBEDDING_COLUMN, embedding_array(embeddings))
    for name, column in (extra or {}).items():
        table = table.append_column(name, column)
    return table


def write_shard(path: Path, trajectories: Sequence[Trajectory], embeddings: list[np.ndarray] | None = None,
                extra: dict[str, pa.Array] | None = None) -> Path:
    """Write one shard atomically: trajectory rows plus optional extra columns."""
    table = shard_table(trajectories, embeddings, extra)
    return write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def encode_shard(trajectories: Sequence[Trajectory], embeddings: list[np.ndarray] | None = None) -> bytes:
    """The bytes :func:`write_shard` would write (for workers that return shards rather
    than write them: they need no shared file system)."""
    sink = pa.BufferOutputStream()
    pq.write_table(shard_table(trajectories, embeddings), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees half a file (durably)."""
    write_bytes(path, data)


def read_embeddings(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, np.ndarray]]:
    """(session_id, turn, embeddings of shape (L, M, d)) for every row of a shard."""
    table = pq.read_table(path, columns=["session_id", "turn", EMBEDDING_COLUMN])
    for sid, turn, value in zip(table["session_id"].to_pylist(), table["turn"].to_pylist(),
                                table[EMBEDDING_COLUMN].to_pylist()):
        yield sid, int(turn), np.asarray(value, dtype=np.float32)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest in ``folder`` (settings and shard records), or None if there is none."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionError(f"{path} is not valid JSON ({exc}); remove the folder or choose another --out") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get(SHARDS, {}), dict):
        raise SessionError(f"{path} is not a simulation manifest; remove the folder or choose another --out")
    return manifest


def foreign_sessions(folder: Path, limit: int = 3) -> list[str]:
    """Up to ``limit`` files under ``folder`` that hold sessions but are not this run's
    shards: other Parquet files, session folders (``session.json``) of ``pasta run``."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        ours = path.parent == folder and path.name.startswith("part-") and path.suffix == ".parquet"
        if (path.suffix == ".parquet" and not ours) or path.name == "session.json":
            found.append(str(path.relative_to(folder)))
            if len(found) >= limit:
                break
    return found


def check_manifest(folder: Path, spec: dict[str, Any]) -> None:
    """Write the settings beside the shards, or refuse to mix runs with other settings, or
    with other sessions in the folder (a reader of the folder would take them all)."""
    foreign = foreign_sessions(folder)
    if foreign:
        raise SessionError(
            f"{folder} already holds other sessions ({', '.join(foreign)}); trajectories written there "
            "would be read together with them (value train reads every Parquet file under a folder): "
            "choose another --out"
        )
    wanted = json.loads(json.dumps(spec))
    saved = read_manifest(folder)
    if saved is not None:
        settings = {k: v for k, v in saved.items() if k != SHARDS}
        if settings != wanted:
            changed = sorted(k for k in set(settings) | set(wanted) if settings.get(k) != wanted.get(k))
            raise SessionError(
                f"{folder} holds a run with other settings (differs in: {', '.join(changed)}); "
                "rerun with the same settings to resume, or choose another --out"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / MANIFEST, wanted)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _update_records(folder: Path, changes: dict[str, dict[str, Any] | None]) -> None:
    """Set (or, for None, drop) shard records in the manifest, in one durable write."""
    manifest = read_manifest(folder)
    if manifest is None or not changes:  # shards without a manifest (a bare run_shards): nowhere to record
        return
    records = manifest.setdefault(SHARDS, {})
    for name, record in changes.items():
        if record is None:
            records.pop(name, None)
        else:
            records[name] = record
    write_json(folder / MANIFEST, manifest)


def _record(path: Path) -> dict[str, Any]:
    return {"rows": pq.ParquetFile(path).metadata.num_rows, "bytes": path.stat().st_size,
            "sha256": file_sha256(path)}


def record_shard(folder: Path, shard: int) -> None:
    """Record shard ``shard``'s row count, size and checksum in the manifest (call it once
    the shard is written; only one process writes the manifest)."""
    path = folder / shard_name(shard)
    _update_records(folder, {path.name: _record(path)})


def shard_problem(path: Path, sessions: int, record: dict[str, Any] | None) -> str | None:
    """Why the shard file ``path`` is not a finished shard of ``sessions`` trajectories
    (None if it is): checked against its ``record``, or read whole if it has none."""
    if record is not None:
        size = path.stat().st_size
        if size != record.get("bytes", size):
            return f"it has {size} bytes, not the {record['bytes']} recorded"
        if file_sha256(path) != record.get("sha256"):
            return "its checksum differs from the one recorded"
        return None
    try:
        table = pq.read_table(path)  # decodes every page: a truncated or corrupt file fails here
        found = len(set(table.column("session_id").to_pylist()))
    except (pa.ArrowException, OSError, KeyError) as exc:
        return f"it cannot be read ({type(exc).__name__}: {exc})"
    if found != sessions:
        return f"it holds {found} sessions, not {sessions}"
    return None


def unfinished_shards(folder: Path, sizes: Sequence[int]) -> list[int]:
    """The shard numbers to compute in ``folder``: shard ``s`` (of ``sizes[s]``
    trajectories) when it has no file, or a file that fails :func:`shard_problem` (that one
    is removed, with a warning, and its record dropped). A good shard without a record
    gets one."""
    finished = set(finished_shards(folder))
    records = (read_manifest(folder) or {}).get(SHARDS, {})
    todo: list[int] = []
    damaged: list[Path] = []
    changes: dict[str, dict[str, Any] | None] = {}
    for shard, sessions in enumerate(sizes):
        path = folder / shard_name(shard)
        if shard not in finished:
            todo.append(shard)
            continue
        record = records.get(path.name)
        problem = shard_problem(path, sessions, record)
        if problem is None:
            if record is None:
                changes[path.name] = _record(path)
            continue
        log.warning("%s is damaged (%s): computing it again", path, problem)
        changes[path.name] = None
        damaged.append(path)
        todo.append(shard)
    _update_records(folder, changes)  # records dropped before their files go
    for path in damaged:
        path.unlink()
    return todo


def shard_paths(folder: Path, num_shards: int) -> tuple[Path, ...]:
    """The files of shards 0 .. ``num_shards`` - 1."""
    return tuple(folder / shard_name(s) for s in range(num_shards))


def run_shards(folder: Path, count: int, shard_size: int, make_shard: Callable[[range], Any],
               progress: bool = True, desc: str = "simulating") -> tuple[list[Path], int]:
    """Call ``make_shard(indices)`` for every unfinished shard; (all shards, computed count)."""
    from tqdm.auto import tqdm

    shards = -(-count // shard_size)
    ranges = {s: range(s * shard_size, min(count, (s + 1) * shard_size)) for s in range(shards)}
    todo = unfinished_shards(folder, [len(ranges[s]) for s in range(shards)])
    done = count - sum(len(ranges[s]) for s in todo)
    computed = 0
    with tqdm(total=count, initial=done, disable=not progress, desc=desc, unit="traj") as bar:
        for shard in todo:
            make_shard(ranges[shard])
            record_shard(folder, shard)
            computed += len(ranges[shard])
            bar.update(len(ranges[shard]))
    return list(shard_paths(folder, shards)), computed
