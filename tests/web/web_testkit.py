"""Helpers for the web tests: a real uvicorn server in a thread, and a slow T2I model."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pasta_core.plugins import Plugins, plugin_module

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


class SlowT2I:
    """The procedural renderer, ``delay`` seconds slower per image (to see progress)."""

    def __init__(self, delay: float | str = 0.05) -> None:
        from pasta_procedural import ProceduralT2I

        self.inner = ProceduralT2I()
        self.delay = float(delay)

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        time.sleep(self.delay * len(prompts))
        return self.inner.render(prompts, seeds)


def plugins_with_slow_t2i() -> Plugins:
    """The installed plugins plus a ``slow-procedural`` T2I model."""
    module = plugin_module(
        "slow_t2i_for_tests",
        pasta_register_t2i_models=lambda register: register("slow-procedural", SlowT2I, "test only"),
    )
    return Plugins(extra=[module])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
