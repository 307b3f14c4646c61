"""The shard files of a simulation and the manifest beside them.

A shard (``part-NNNNN.parquet``) holds trajectory rows in the format of
:mod:`pasta_core.store`, plus an ``image_embeddings`` column when embeddings are kept:
per turn, L x M vectors of the rendered images (float16). Every file is written
atomically, so a reader (or a rerun) never sees half a shard.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pasta_core.errors import SessionError
from pasta_core.store import TrajectoryWriter, to_table
from pasta_core.types import Trajectory

MANIFEST = "simulation.json"
EMBEDDING_COLUMN = "image_embeddings"


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
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(shard_table(trajectories, embeddings, extra), tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def encode_shard(trajectories: Sequence[Trajectory], embeddings: list[np.ndarray] | None = None) -> bytes:
    """The bytes :func:`write_shard` would write (for workers that return shards rather
    than write them: they need no shared file system)."""
    sink = pa.BufferOutputStream()
    pq.write_table(shard_table(trajectories, embeddings), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_embeddings(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, np.ndarray]]:
    """(session_id, turn, embeddings of shape (L, M, d)) for every row of a shard."""
    table = pq.read_table(path, columns=["session_id", "turn", EMBEDDING_COLUMN])
    for sid, turn, value in zip(table["session_id"].to_pylist(), table["turn"].to_pylist(),
                                table[EMBEDDING_COLUMN].to_pylist()):
        yield sid, int(turn), np.asarray(value, dtype=np.float32)


def check_manifest(folder: Path, spec: dict[str, Any]) -> None:
    """Write the settings beside the shards, or refuse to mix runs with other settings."""
    path = folder / MANIFEST
    wanted = json.loads(json.dumps(spec))
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved != wanted:
            changed = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
            raise SessionError(
                f"{folder} holds a run with other settings (differs in: {', '.join(changed)}); "
                "rerun with the same settings to resume, or choose another --out"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(spec, indent=2, sort_keys=True))
    os.replace(tmp, path)


def unfinished_shards(folder: Path, num_shards: int) -> list[int]:
    """The shard numbers below ``num_shards`` with no finished file in ``folder``."""
    finished = set(TrajectoryWriter.finished_shards(folder))
    return [s for s in range(num_shards) if s not in finished]


def shard_paths(folder: Path, num_shards: int) -> tuple[Path, ...]:
    """The files of shards 0 .. ``num_shards`` - 1."""
    return tuple(folder / TrajectoryWriter.shard_name(s) for s in range(num_shards))


def run_shards(folder: Path, count: int, shard_size: int, make_shard: Callable[[range], Any],
               progress: bool = True, desc: str = "simulating") -> tuple[list[Path], int]:
    """Call ``make_shard(indices)`` for every unfinished shard; (all shards, computed count)."""
    from tqdm.auto import tqdm

    shards = -(-count // shard_size)
    todo = unfinished_shards(folder, shards)
    ranges = {s: range(s * shard_size, min(count, (s + 1) * shard_size)) for s in range(shards)}
    done = count - sum(len(ranges[s]) for s in todo)
    computed = 0
    with tqdm(total=count, initial=done, disable=not progress, desc=desc, unit="traj") as bar:
        for shard in todo:
            make_shard(ranges[shard])
            computed += len(ranges[shard])
            bar.update(len(ranges[shard]))
    return list(shard_paths(folder, shards)), computed
