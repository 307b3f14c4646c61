"""Atomic file writes: a crash leaves the old file or the new one, never half of one.

Every writer puts its bytes in a temporary file beside the target and moves it into place
with ``os.replace``. A *durable* write (the default) also survives a power loss: the
temporary file is flushed to the disk (``fsync``) before the move, and the folder after it,
so the new name never points at data the disk has not got, and the move itself is on the
disk when the call returns. Files that are cheap to make again (an image re-rendered from
its seed) may pass ``durable=False``: still atomic against a crash, with no sync.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["move_into_place", "sync_file", "sync_folder", "write_atomically", "write_bytes", "write_json",
           "write_text"]


def sync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file's data to the disk."""
    _fsync(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)  # Windows syncs writable handles only


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (names created, replaced or removed in it) to the disk.
    A no-op where folders cannot be opened (Windows, whose ``MoveFileEx`` is durable)."""
    if os.name != "nt":
        _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path: str | os.PathLike[str], flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_into_place(tmp: str | os.PathLike[str], path: str | os.PathLike[str], *, durable: bool = True) -> Path:
    """Replace ``path`` by the finished file ``tmp`` (in the same folder): ``tmp`` synced
    before the move and the folder after it, if ``durable``."""
    path = Path(path)
    if durable:
        sync_file(tmp)
    os.replace(tmp, path)
    if durable:
        sync_folder(path.parent)
    return path


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], Any], *, durable: bool = True,
                     unique: bool = False) -> Path:
    """Call ``write(tmp)`` to write the new contents to a temporary file beside ``path``,
    then move it into place (:func:`move_into_place`). On an error the temporary file is
    removed and ``path`` is left as it was."""
    path = Path(path)
    # A fixed name is reused by the next write after a kill; a unique one lets two
    # writers of the same file run at once (the last move wins, each file whole).
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp" if unique else f".{path.name}.tmp")
    try:
        write(tmp)
        return move_into_place(tmp, path, durable=durable)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True, unique: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`write_atomically`)."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(data), durable=durable, unique=unique)


def write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_atomically`)."""
    return write_bytes(path, text.encode("utf-8"), durable=durable)


def write_json(path: str | os.PathLike[str], data: Any, *, durable: bool = True) -> Path:
    """Write ``data`` as indented JSON with sorted keys (and a final newline) atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n", durable=durable)
