"""Handing freed memory back to the operating system.

A server process allocates and frees many image-sized buffers from many threads (render
workers, each session's writer and prefetch threads, the request threads). glibc keeps
what Python frees in per-thread arenas and gives it back to the system only when the top
of an arena is free, which fragmentation rarely allows: after a burst of visitors the
process keeps its peak size although almost nothing is in use. ``malloc_trim(0)`` returns
every free page of every arena; the web app calls it after sessions leave memory. On a C
library without it (musl, macOS, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import platform
from typing import Any

log = logging.getLogger("pasta_web")


@functools.cache
def _malloc_trim() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Give the C library's free memory back to the system; False where that is not
    possible here."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
