"""In-server memory probe for ``benchmarks/web_memory.py`` (not part of the web app).

Imported at start-up by a ``sitecustomize`` that ``web_memory.py`` puts on the server's
``PYTHONPATH``. In a ``pasta serve`` process with ``PASTA_MEMORY_PROBE`` set to a folder, a
thread waits for a file ``trigger-NAME`` there and answers with ``report-NAME.json``: the
resident memory by kind of mapping (``/proc/self/smaps``), glibc's arenas
(``malloc_info``: in use and free per arena), Python objects (``gc``; a ``tracemalloc``
snapshot when tracing), PIL images alive, the procedural renderer's pictogram cache, SQLite's
own memory and the threads; then the same after ``malloc_trim(0)``. The thread starts
once the server has set its allocator options (:func:`install`).
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

ARENA = 64 << 20  # glibc's non-main arena heaps are 64 MiB, aligned to their size
MIMALLOC_RESERVE = 1 << 30  # the address space mimalloc (Arrow's allocator) reserves at once


def _maps() -> list[tuple[int, int, str, str, int]]:
    """(start, end, permissions, name, resident KiB) of every mapping."""
    maps: list[tuple[int, int, str, str, int]] = []
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if head:
            maps.append((int(head.group(1), 16), int(head.group(2), 16), head.group(3), head.group(4), 0))
        elif line.startswith("Rss:") and maps:
            start, end, perms, name, _ = maps[-1]
            maps[-1] = (start, end, perms, name, int(line.split()[1]))
    return maps


def _arena_heaps(maps: list[tuple[int, int, str, str, int]]) -> set[int]:
    """Start addresses of glibc's non-main arena heaps: 64 MiB aligned, beginning with a
    ``heap_info`` whose arena pointer points just past it (an arena's first heap) or at
    such an arena (a later heap of it)."""
    aligned = [start for start, _, perms, name, _ in maps if not name and start % ARENA == 0 and perms.startswith("rw")]
    pointers = {start: ctypes.c_size_t.from_address(start).value for start in aligned}
    arenas = {pointer for start, pointer in pointers.items() if start < pointer < start + 256}
    return {start for start, pointer in pointers.items() if pointer in arenas}


def resident() -> dict[str, float]:
    """Resident MiB by kind: the main heap, glibc's other arenas, mimalloc's reservation,
    Python's 1 MiB object arenas, other anonymous memory, files (code and data)."""
    maps = _maps()
    heaps = _arena_heaps(maps)
    kinds: collections.Counter[str] = collections.Counter()
    for start, end, _, name, rss in maps:
        if name == "[heap]":
            kind = "main_heap"
        elif name.startswith("/"):
            kind = "files"
        elif name:
            kind = "other"
        elif end - start == MIMALLOC_RESERVE:
            kind = "arrow_mimalloc"
        elif start - start % ARENA in heaps:
            kind = "malloc_arenas"
        elif end - start == 1 << 20:
            kind = "python_arenas"
        else:
            kind = "other_anonymous"
        kinds[kind] += rss
    return {kind: round(kib / 1024, 1) for kind, kib in sorted(kinds.items())}


def _rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def arenas() -> dict[str, Any]:
    """glibc's arenas from ``malloc_info``: how many, MiB in use in the main one and the
    others (their size less their free chunks and free top)."""
    libc = _libc()
    libc.open_memstream.restype = ctypes.c_void_p
    buffer, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    xml = ctypes.string_at(buffer, size.value).decode()
    used = []
    for body in re.findall(r'<heap nr="\d+">(.*?)</heap>', xml, re.S):
        free = sum(int(s) for s in re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"/>', body))
        system = re.search(r'<system type="current" size="(\d+)"/>', body)
        used.append((int(system.group(1)) if system else 0) - free)
    return {"count": len(used), "in_use_main_mib": round(used[0] / 2**20, 1) if used else 0.0,
            "in_use_others_mib": round(sum(used[1:]) / 2**20, 1)}


def objects() -> dict[str, Any]:
    gc.collect()
    found: dict[str, Any] = {"python_objects": len(gc.get_objects())}
    try:
        from PIL import Image

        images = [o for o in gc.get_objects() if isinstance(o, Image.Image)]
        found["pil_images"] = len(images)
        found["pil_mib"] = round(sum(i.width * i.height * 4 for i in images) / 2**20, 1)
    except ImportError:
        pass
    names = collections.Counter(type(o).__name__ for o in gc.get_objects())
    found["live_sessions"] = {n: names.get(n, 0) for n in ("LiveSession", "Session", "SlateBuffer", "BeliefState")}
    pictograms = sys.modules.get("pasta_procedural.pictograms")
    if pictograms is not None:
        cache = getattr(pictograms, "_glyphs", None)
        found["pictogram_cache"] = (
            {"images": len(cache), "mib": round(cache.bytes / 2**20, 1)} if cache is not None
            else {"images": pictograms.glyph.cache_info().currsize}  # the count-bounded cache before
        )
    try:
        import _sqlite3  # noqa: PLC2701 - the library the sqlite3 module is linked with

        sqlite = ctypes.CDLL(_sqlite3.__file__)
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        found["sqlite_mib"] = round(sqlite.sqlite3_memory_used() / 2**20, 2)
    except (ImportError, OSError, AttributeError):
        pass
    threads = collections.Counter(re.sub(r"[-_ ]?\d+.*$", "", t.name) for t in threading.enumerate())
    found["threads"] = dict(threads)
    return found


def report(folder: Path, name: str) -> None:
    import tracemalloc

    found: dict[str, Any] = {"rss_mib": _rss(), "resident": resident(), "arenas": arenas(), **objects()}
    if tracemalloc.is_tracing():
        found["traced_python_mib"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 2)
        tracemalloc.take_snapshot().dump(str(folder / f"snapshot-{name}.pickle"))
    _libc().malloc_trim(0)
    found["after_malloc_trim"] = {"rss_mib": _rss(), "resident": resident(), "arenas": arenas()}
    (folder / f"report-{name}.json").write_text(json.dumps(found, indent=1))


def _watch(folder: Path) -> None:
    while True:
        for trigger in sorted(folder.glob("trigger-*")):
            name = trigger.name.removeprefix("trigger-")
            try:
                report(folder, name)
            except Exception as exc:  # noqa: BLE001 - said in the answer, the server goes on
                (folder / f"report-{name}.json").write_text(json.dumps({"error": repr(exc)}))
            trigger.unlink()
        time.sleep(0.2)


def install() -> None:
    """Start the probe's thread in a ``pasta serve`` process with ``PASTA_MEMORY_PROBE`` set:
    right after the server has set its allocator options where it does
    (``pasta_web.memory.configure_server_process``: a thread that allocated before would
    have an arena of its own, shared round-robin with the server's threads), else now."""
    folder = os.environ.get("PASTA_MEMORY_PROBE")
    if not folder or "serve" not in sys.argv:
        return

    def start() -> None:
        threading.Thread(target=_watch, args=(Path(folder),), name="memory-probe", daemon=True).start()

    try:
        import pasta_web.memory as memory

        configure = memory.configure_server_process
    except (ImportError, AttributeError):  # an older web app
        start()
        return

    def configured() -> dict[str, bool]:
        applied = configure()
        start()
        return applied

    memory.configure_server_process = configured
