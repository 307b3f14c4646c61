"""The server process's memory: what it keeps after a burst of visitors, and handing it back.

What a server kept after a burst of visitors, with no session left in memory (the figures
and how they were found are in docs/benchmarks.md, issue 22):

- glibc's malloc arenas. Every thread that allocates gets an arena of its own, up to 8 per
  core (16 on 2 cores). ``malloc_trim(0)`` returns the free pages inside each arena's free
  chunks, but not the free space at the top of an arena other than the main one (only a
  ``free`` that leaves more than the dynamic trim threshold there shrinks it, and that
  threshold grows with the image-sized buffers). So each arena kept free memory at its
  top. :func:`limit_arenas` gives the server :data:`SERVER_ARENAS` arena: everything
  is then in the main arena, whose free top ``malloc_trim`` does return.
- Arrow's allocator (mimalloc, in ``pyarrow``'s default build), which the session writers'
  Parquet files go through: it kept the pages its threads had used although nothing was
  allocated in it any more, and ``release_unused`` did not return them.
  :func:`use_system_arrow_pool` makes Arrow allocate from malloc (the trajectory files are
  small: the allocator's speed does not matter here), so that memory is trimmed too.
- The renderer's caches (for the procedural renderer its pictograms): the web app asks a
  T2I model that has a ``release_memory()`` method to empty them when no session is being
  played (:meth:`pasta_web.service.WebSessions.release_memory`).

:func:`release_free_memory` (``malloc_trim(0)``) runs after sessions leave memory. On a C
library other than glibc (musl, macOS, Windows) these functions do nothing and say so.
An operator's own setting wins: ``MALLOC_ARENA_MAX`` (or ``glibc.malloc.arena_max`` in
``GLIBC_TUNABLES``) and ``ARROW_DEFAULT_MEMORY_POOL`` in the environment are left as they are.

(Rejected: a fixed mmap threshold, which maps each image-sized buffer on its own; it brought
memory back too but made the server's work per click much slower.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import sys
from typing import Any

#: glibc malloc arenas for the web server's process (``mallopt(M_ARENA_MAX)``): the main one
#: only, whose free top ``malloc_trim`` returns. The server's threads mostly run Python under
#: its one lock, so they seldom wait for each other's allocations.
SERVER_ARENAS = 1
#: glibc's ``mallopt`` parameter number for the arena limit.
M_ARENA_MAX = -8


@functools.cache
def _glibc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory() -> bool:
    """Give the C library's free memory back to the system; False where that is not
    possible here."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def limit_arenas(count: int = SERVER_ARENAS) -> bool:
    """Let the threads that start allocating from now on share at most ``count`` glibc
    malloc arenas (call it before the server starts its threads). False where that is not
    possible here, or where the environment already sets the limit (the operator's choice)."""
    if count < 1:
        raise ValueError(f"an arena count is at least 1, got {count}")
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "MALLOC_ARENA_MAX" in os.environ or "glibc.malloc.arena_max" in tunables:
        return False
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def use_system_arrow_pool() -> bool:
    """Make Arrow (Parquet files) allocate through malloc in this process. Arrow chooses
    its allocator once, from ``ARROW_DEFAULT_MEMORY_POOL``, when pyarrow is first imported
    (``pyarrow.set_memory_pool`` afterwards does not reach the Parquet writer), so this
    sets that variable and must run before the import. False where it is too late or the
    environment already chose."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ or "pyarrow" in sys.modules:
        return False
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    return True


def configure_server_process() -> dict[str, bool]:
    """The server process's allocator settings (:func:`limit_arenas`,
    :func:`use_system_arrow_pool`); returns which were applied. Call once, first thing at
    start-up: before pyarrow is imported and before the server starts its threads."""
    return {"arenas": limit_arenas(), "arrow_system_pool": use_system_arrow_pool()}
