"""The server's memory after a burst of visitors (issue 22, item 5: memory returns to its
baseline after load): finished sessions leave nothing in the service's registries, the
renderer's caches are bounded in bytes and emptied once no session is played, and the
process's allocator settings (one glibc malloc arena, Arrow on malloc) are applied where
they can be and left alone where the operator chose."""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import textwrap
import weakref

import pytest
from PIL import Image

import pasta_web.memory as memory
import pasta_web.service
from pasta_procedural import ProceduralT2I, pictograms
from pasta_web.service import WebSessions

OWNER = "c" * 64
ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


# -- the pictogram cache -------------------------------------------------------------------


def _image(pixels: int) -> Image.Image:
    return Image.new("RGBA", (pixels, pixels))


def test_the_image_cache_is_bounded_by_bytes_least_recently_used_first():
    cache = pictograms.ImageCache(4 * 100 * 100 * 4)  # room for four 100 px images
    for key in "abc":
        cache.put(key, _image(100))
    assert len(cache) == 3 and cache.bytes == 3 * 40_000
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("d", _image(100))
    cache.put("e", _image(100))  # one too many: the least recently used, "b", goes
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 4
    cache.put("big", _image(150))  # 90,000 bytes: "c", "d" and "e" go, "a" (used last) stays
    assert [k for k in "acde" if cache.get(k) is not None] == ["a"] and cache.get("big") is not None
    assert cache.bytes == 130_000 <= cache.max_bytes
    cache.put("huge", _image(250))  # larger than the bound: not kept, nothing dropped
    assert cache.get("huge") is None and len(cache) == 2
    cache.put("big", _image(150))  # the same key again is counted once
    assert cache.bytes == 130_000
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_glyphs_are_kept_for_reuse_within_their_byte_bound(monkeypatch):
    small = pictograms.ImageCache(200_000)
    monkeypatch.setattr(pictograms, "_glyphs", small)
    stem = next(iter(pictograms.table().values()))
    first = pictograms.glyph(stem, 40, (200, 10, 10))
    assert pictograms.glyph(stem, 40, (200, 10, 10)) is first  # reused
    for pixels in range(41, 120):
        pictograms.glyph(stem, pixels)
    assert 0 < small.bytes <= 200_000 and len(small) < 80  # the oldest went


def test_the_procedural_renderer_releases_its_caches():
    t2i = ProceduralT2I(size=64)
    t2i.render(["a red fox beside a blue car"], [3])
    assert len(pictograms._glyphs) > 0 and t2i._describe.cache_info().currsize == 1  # noqa: SLF001
    t2i.release_memory()
    assert len(pictograms._glyphs) == 0 and pictograms._glyphs.bytes == 0  # noqa: SLF001
    assert t2i._describe.cache_info().currsize == 0 and pictograms._source.cache_info().currsize == 0  # noqa: SLF001


# -- sessions leave nothing behind ---------------------------------------------------------


def _play(web: WebSessions, prompt: str, refs: list[weakref.ref]) -> str:
    """One session's picking phase, rendered inline; weak references to what it held."""
    row = web.create(OWNER, prompt, client="127.0.0.1")
    for turn in range(1, web.config.turns + 1):
        live = web._live[row.id]  # noqa: SLF001 - the test looks inside on purpose
        refs += [weakref.ref(live), weakref.ref(live.session), weakref.ref(live.buffer)]
        refs += [weakref.ref(image) for column in live.session.columns for image in column.images]
        web.choose(OWNER, row.id, turn, turn % 4)
    return row.id


def test_finished_sessions_leave_nothing_in_the_server(settings, plugins, monkeypatch):
    """After N sessions' picking phases end, the service holds none of them (registry,
    render queue, belief queue, their images) and, with no session left, the renderer's
    pictogram cache is empty and freed memory is handed back."""
    trims: list[int] = []
    monkeypatch.setattr(pasta_web.service, "release_free_memory", lambda: trims.append(1) or True)
    web = WebSessions(settings, plugins, background=False)
    try:
        refs: list[weakref.ref] = []
        ids = [_play(web, f"a red fox number {i} beside a blue car", refs) for i in range(3)]
        assert len(pictograms._glyphs) > 0  # noqa: SLF001 - the renderer kept some for reuse
        web.release_memory()
        assert trims == [1]
        assert web.load() == {"live": 0, "queued_renders": 0}
        assert not any(web.in_memory(i) for i in ids) and not web._beliefs  # noqa: SLF001
        gc.collect()
        alive = [ref() for ref in refs if ref() is not None]
        assert not alive, f"{len(alive)} of {len(refs)} objects of finished sessions are still held: {alive[:3]}"
        assert len(pictograms._glyphs) == 0 and pictograms._glyphs.bytes == 0  # noqa: SLF001
        web.release_memory()  # nothing left since: nothing to do
        assert trims == [1]
    finally:
        web.close()


def test_caches_stay_while_a_session_is_played(settings, plugins, monkeypatch):
    monkeypatch.setattr(pasta_web.service, "release_free_memory", lambda: True)
    web = WebSessions(settings, plugins, background=False)
    try:
        playing = web.create(OWNER, "a green boat under the moon", client="127.0.0.1")
        _play(web, "a yellow bus", [])
        web.release_memory()
        assert web.in_memory(playing.id) and len(pictograms._glyphs) > 0  # noqa: SLF001 - kept
    finally:
        web.close()


# -- the process's allocator ---------------------------------------------------------------


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", (param, value)))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", (pad,)))
        return 1


def test_arena_limit_and_trim_call_glibc_unless_the_operator_chose(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: libc)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert memory.limit_arenas() is True and libc.calls == [("mallopt", (memory.M_ARENA_MAX, memory.SERVER_ARENAS))]
    assert memory.release_free_memory() is True and libc.calls[-1] == ("malloc_trim", (0,))
    libc.calls.clear()
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=3")
    assert memory.limit_arenas() is False and libc.calls == []
    with pytest.raises(ValueError):
        memory.limit_arenas(0)


def test_without_glibc_nothing_is_called(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert memory.limit_arenas() is False and memory.release_free_memory() is False


def test_arrow_pool_is_left_alone_once_pyarrow_is_imported_or_chosen(monkeypatch):
    import pyarrow  # noqa: F401 - imported: too late to choose

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    assert memory.use_system_arrow_pool() is False and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ


_PROCESS = textwrap.dedent(
    """
    import ctypes, ctypes.util, re, sys, threading
    from pasta_web.memory import configure_server_process
    applied = configure_server_process() if sys.argv[1] == "configured" else {}
    import pyarrow as pa, pyarrow.parquet as pq

    def work(i):
        kept = [bytes(2000) for _ in range(200)]  # malloc from this thread
        table = pa.Table.from_pylist([{"text": "x" * 50, "n": n} for n in range(500)])
        pq.write_table(table, sys.argv[2] + f"/{i}.parquet")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.open_memstream.restype = ctypes.c_void_p
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    heaps = len(re.findall(r'<heap nr=', ctypes.string_at(buf, size.value).decode()))
    print(heaps, pa.default_memory_pool().backend_name, applied.get("arenas"), applied.get("arrow_system_pool"))
    """
)


@pytest.mark.skipif(not ON_GLIBC, reason="glibc's malloc arenas")
def test_a_configured_process_uses_one_arena_and_arrow_on_malloc(tmp_path):
    """In a fresh process: threads that allocate get arenas of their own unless the server's
    settings were applied first; then they share the main one, and Arrow uses malloc."""
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES",
                                                            "ARROW_DEFAULT_MEMORY_POOL")}

    def run(mode: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", _PROCESS, mode, str(tmp_path)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    heaps, backend, arenas, arrow = run("configured")
    assert (heaps, backend, arenas, arrow) == (str(memory.SERVER_ARENAS), "system", "True", "True")
    heaps, backend, _, _ = run("plain")
    assert int(heaps) > memory.SERVER_ARENAS and backend != "system"
