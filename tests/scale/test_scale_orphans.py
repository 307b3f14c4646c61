"""Spawned pool workers end when the process that started them is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")

PARENT = """
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    from pasta_simulate.pool import spawn_pool

    if __name__ == "__main__":
        if sys.argv[1] == "watched":
            pool = spawn_pool(1)
        else:
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        print(pool.submit(os.getpid).result(), flush=True)
        time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Running or sleeping (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _orphan_worker(tmp_path: Path, kind: str) -> int:
    """Start a parent with a one-worker pool, kill the parent; the worker's pid."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT))
    parent = subprocess.Popen([sys.executable, str(script), kind], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    parent.kill()
    parent.wait()
    return worker


def _alive_after(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return False
        time.sleep(0.1)
    return _alive(pid)


def test_a_watched_worker_ends_soon_after_its_parent_is_killed(tmp_path):
    worker = _orphan_worker(tmp_path, "watched")
    assert not _alive_after(worker, 10)


def test_a_plain_pool_worker_outlives_its_killed_parent(tmp_path):
    """The control: without the watch the orphan stays (what spawn_pool fixes)."""
    worker = _orphan_worker(tmp_path, "plain")
    try:
        assert _alive_after(worker, 3)
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
