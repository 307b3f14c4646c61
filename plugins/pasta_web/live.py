"""Sessions being played right now: shared components, rendering with progress.

One set of components is built per arm and shared by all its sessions (a real T2I model
is loaded once, not once per visitor). Each session wraps the shared T2I model in a
:class:`ProgressT2I` that renders a few images at a time and hands each finished image to
the session, so the page can show images as they finish.

Concurrency (the contract in :mod:`pasta_core.protocols`): the shared generator and
selector are called from several sessions' threads at once, which the contract allows;
every call of the shared T2I model, by a session or to restore a lost image, goes through
a :class:`ProgressT2I` holding the arm's :class:`SlateLock`, so it is never called
concurrently. A slate holds the model from its first image to its last, and slates get it
in the order they asked: the first of several clicks at once waits for one slate, the
second for two, and so on, instead of all of them waiting for every slate in flight (as
when their images take turns).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pasta_core.engine import Agent
from pasta_core.errors import PastaError, PluginError
from pasta_core.plugins import Plugins
from pasta_core.protocols import T2IModel
from pasta_core.session import ComponentSpec
from pasta_png import png_bytes
from pasta_web.settings import Arm


def build_component(plugins: Plugins, kind: str, name: str, options: dict[str, Any], load: bool = False) -> Any:
    """``plugins.create(kind, name, **options)`` (``plugins.load`` with ``load``: a registered
    name or a checkpoint folder). A factory that refuses its options raises a
    :class:`~pasta_core.errors.PluginError` here, so the server raises PASTA errors only."""
    try:
        return (plugins.load if load else plugins.create)(kind, name, **options)
    except PastaError:
        raise
    except (TypeError, ValueError) as exc:
        given = ", ".join(sorted(options)) or "none"
        raise PluginError(f"the {kind} {name!r} could not be built with the options given ({given}): {exc}") from exc


class RenderListener:
    """What a :class:`ProgressT2I` tells about a render in progress."""

    def started(self, prompts: Sequence[str]) -> None: ...

    def finished(self, index: int, image: Any) -> None: ...


class SlateLock:
    """Mutual exclusion for one shared T2I model, granted in the order it was asked for
    (first come, first served; Python's own lock makes no such promise)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._busy = False
        self._waiting: list[int] = []  # a heap of tickets
        self._tickets = itertools.count()

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._condition:
            ticket = next(self._tickets)
            heapq.heappush(self._waiting, ticket)
            while self._busy or self._waiting[0] != ticket:
                self._condition.wait()
            heapq.heappop(self._waiting)
            self._busy = True
        try:
            yield
        finally:
            with self._condition:
                self._busy = False
                self._condition.notify_all()


class ProgressT2I:
    """A T2I model that renders ``batch`` images at a time and reports each one (the page
    shows each image as it is done).

    The shared model is held (the arm's ``lock``) for the whole slate; other callers
    (another slate, an image restored on demand) wait their turn in the order they asked.
    """

    def __init__(self, inner: T2IModel, lock: SlateLock, batch: int = 1) -> None:
        self.inner = inner
        self.lock = lock
        self.batch = max(1, int(batch))
        self.listener: RenderListener | None = None

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        listener = self.listener
        if listener is not None:
            listener.started(prompts)
        images: list[Any] = []
        with self.lock.hold():
            for start in range(0, len(prompts), self.batch):
                stop = start + self.batch
                part = self.inner.render(list(prompts[start:stop]), list(seeds[start:stop]))
                for offset, image in enumerate(part):
                    images.append(image)
                    if listener is not None:
                        listener.finished(start + offset, image)
        return images

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class SharedComponents:
    """The generator, selector and T2I model of one arm, built once."""

    def __init__(self, plugins: Plugins, arm: Arm) -> None:
        self.arm = arm
        self.generator = build_component(plugins, "generator", arm.generator, arm.generator_options)
        self.selector = build_component(plugins, "selector", arm.selector, arm.selector_options)
        self.t2i = build_component(plugins, "t2i", arm.t2i, arm.t2i_options)
        self.lock = SlateLock()

    def renderer(self, batch: int = 1) -> ProgressT2I:
        """The shared T2I model behind the arm's lock (no listener until one is set)."""
        return ProgressT2I(self.t2i, self.lock, batch)

    def agent(self, batch: int) -> tuple[Agent, ProgressT2I]:
        """A session's own agent: the shared parts, with its own progress-reporting T2I."""
        t2i = self.renderer(batch)
        return Agent(generator=self.generator, selector=self.selector, t2i=t2i), t2i

    def components(self) -> dict[str, ComponentSpec]:
        arm = self.arm
        return {
            "generator": ComponentSpec(arm.generator, dict(arm.generator_options)),
            "selector": ComponentSpec(arm.selector, dict(arm.selector_options)),
            "t2i": ComponentSpec(arm.t2i, dict(arm.t2i_options)),
        }


class AgentPool:
    """Shared components per arm, built on first use (or all at once by :meth:`warm_up`)."""

    def __init__(self, plugins: Plugins) -> None:
        self.plugins = plugins
        self._built: dict[str, SharedComponents] = {}
        self._lock = threading.Lock()

    def get(self, arm: Arm) -> SharedComponents:
        key = json.dumps(arm.spec(), sort_keys=True, default=str)
        with self._lock:
            if key not in self._built:
                self._built[key] = SharedComponents(self.plugins, arm)
            return self._built[key]

    def warm_up(self, arms: Sequence[Arm]) -> None:
        for arm in arms:
            self.get(arm)

    def release_caches(self) -> int:
        """Ask each arm's T2I model that has a ``release_memory()`` method to drop what it
        keeps for reuse (e.g. the procedural renderer's pictograms), holding the model as a
        render does (never during one). Returns how many were asked."""
        with self._lock:
            built = list(self._built.values())
        asked = 0
        for shared in built:
            release = getattr(shared.t2i, "release_memory", None)
            if callable(release):
                with shared.lock.hold():
                    release()
                asked += 1
        return asked


ImageKey = tuple[int, int]  # (0-based column, 0-based image)

#: Versions are drawn from one counter, so a session resumed in a new
#: :class:`Changes` never repeats a version a page saw before.
_versions = itertools.count(1)


class Changes:
    """A version number that moves whenever what the page shows of a session changes
    (an image done, the status, the belief), and waits for it that cost no thread.

    :meth:`bump` is called from any thread; :meth:`wait` is awaited on the server's event
    loop (a page's poll that holds until there is something new to show)."""

    def __init__(self) -> None:
        self.version = next(_versions)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.version = next(_versions)
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # the loop has closed (the server stopped)
                pass

    async def wait(self, seen: int, timeout: float) -> None:
        """Return when the version is no longer ``seen``, or after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self.version != seen:
                return
            self._waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SlateBuffer(RenderListener):
    """The images of the slate being rendered (or last rendered), and their PNG bytes.

    Each image is encoded once, by whichever needs it first: the page asking for it (in
    that request's thread, not while the T2I model is held) or the session's writer
    saving its file (:meth:`encode`, given to the session); the other gets the same bytes."""

    def __init__(self, images_per_prompt: int, changed: Callable[[], None] | None = None) -> None:
        self.images_per_prompt = images_per_prompt
        self.turn = 0
        self.prompts: list[str] = []
        self.total = 0
        self.images: dict[ImageKey, Any] = {}  # PIL images
        self.encoded: dict[ImageKey, bytes] = {}  # their PNG bytes, once asked for
        self._keys: dict[int, ImageKey] = {}  # id(image) -> its key (the image is held above)
        self._encoding: dict[ImageKey, threading.Event] = {}  # encodings in progress (set when done)
        self._lock = threading.Lock()
        self._changed = changed or (lambda: None)

    def _clear(self) -> None:
        self.images, self.encoded, self._keys = {}, {}, {}
        self._encoding = {}  # encodings still in progress finish for their own callers

    def expect(self, turn: int) -> None:
        """The next render is the slate of ``turn``."""
        with self._lock:
            self.turn, self.prompts, self.total = turn, [], 0
            self._clear()
        self._changed()

    def started(self, prompts: Sequence[str]) -> None:
        m = self.images_per_prompt
        with self._lock:
            self.prompts = [prompts[i] for i in range(0, len(prompts), m)]
            self.total = len(prompts)
            self._clear()
        self._changed()

    def finished(self, index: int, image: Any) -> None:
        key = divmod(index, self.images_per_prompt)
        with self._lock:
            self.images[key] = image
            self._keys[id(image)] = key
        self._changed()

    def ready(self, turn: int, column: int, image: int) -> bytes | None:
        """The PNG bytes of an image of the slate on show if they are encoded already."""
        with self._lock:
            return self.encoded.get((column, image)) if turn == self.turn else None

    def get(self, turn: int, column: int, image: int) -> bytes | None:
        """The PNG bytes of an image of the slate on show (encoded now if need be); None
        if the buffer does not hold it."""
        key = (column, image)
        with self._lock:
            if turn != self.turn or key not in self.images:
                return None
            found, data = self.images[key], self.encoded.get(key)
        return data if data is not None else self._encode(key, found)

    def encode(self, image: Any) -> bytes:
        """PNG bytes of ``image``: those already made if it is in the buffer (each image
        is encoded once), else made now."""
        with self._lock:
            key = self._keys.get(id(image))
            if key is None or self.images.get(key) is not image:
                key = None
            data = self.encoded.get(key) if key is not None else None
        if data is not None:
            return data
        return png_bytes(image) if key is None else self._encode(key, image)

    def _encode(self, key: ImageKey, image: Any) -> bytes:
        """The PNG bytes of the buffer's ``image`` at ``key``, encoded once: a caller that
        finds the same image being encoded by another thread (the page and the session's
        writer asking at once) waits for those bytes instead of encoding it again."""
        with self._lock:
            current = self.images.get(key) is image
            data = self.encoded.get(key) if current else None
            pending = self._encoding.get(key) if current else None
            mine = current and data is None and pending is None
            if mine:
                pending = self._encoding[key] = threading.Event()
        if data is not None:
            return data
        if pending is not None and not mine:
            pending.wait()
            with self._lock:
                data = self.encoded.get(key) if self.images.get(key) is image else None
            return data if data is not None else png_bytes(image)  # the buffer moved on meanwhile
        try:
            data = png_bytes(image)
            with self._lock:
                if self.images.get(key) is image:
                    data = self.encoded.setdefault(key, data)
        finally:
            with self._lock:
                if pending is not None and self._encoding.get(key) is pending:
                    del self._encoding[key]
            if pending is not None:
                pending.set()
        return data

    def snapshot(self) -> tuple[int, list[str], int, set[ImageKey]]:
        with self._lock:
            return self.turn, list(self.prompts), self.total, set(self.images)
