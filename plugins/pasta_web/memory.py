"""Handing freed memory back to the operating system.

A server process allocates and frees many image-sized buffers from many threads (render
workers, each session's writer and prefetch threads, the request threads). glibc keeps
what Python frees in per-thread arenas and gives it back to the system only when the top
of an arena is free, which fragmentation rarely allows: after a burst of visitors the
process keeps its peak size although almost nothing is in use. ``malloc_trim(0)`` returns
every free page of every arena; the web app calls it after sessions leave memory. On a C
library without it (musl, macOS, Windows) this does nothing.

(A fixed mmap threshold, which would map each image-sized buffer on its own, brought the
memory back closer still but made the server's work per click much slower: the
figures are in docs/benchmarks.md.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform
from typing import Any


@functools.cache
def _glibc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
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
