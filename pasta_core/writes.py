"""Background file writes that a waiting caller can help finish.

A session hands each file of a slate to one writer thread as a :class:`FileJob`. A thread
that has to wait for some of those files (``Session.close``, a server about to serve an
image, a full write queue) does not sit idle: :func:`finish` runs the jobs nobody has
started yet in the waiting thread and then waits for the rest. Each job runs exactly
once, in whichever thread claims it first, so a slate's files are written once. The
click writes nothing itself unless the disk has fallen several slates behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


class FileJob:
    """One file to write, run once by whichever thread claims it first."""

    def __init__(self, write: Callable[[], None]) -> None:
        self._write = write
        self._claim = threading.Lock()
        self._finished = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        """Write the file unless another thread has claimed the job; failures are kept in
        :attr:`error` (an interrupt is kept and raised again)."""
        if not self._claim.acquire(blocking=False):
            return
        try:
            self._write()
        except Exception as error:  # noqa: BLE001 - reported by the session, with the turn
            self.error = error
        except BaseException as error:
            self.error = error
            raise
        finally:
            self._finished.set()

    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self) -> None:
        self._finished.wait()


def finish(jobs: Iterable[FileJob]) -> bool:
    """Run the unclaimed ``jobs`` here, wait for the others; True if every one succeeded."""
    jobs = list(jobs)
    for job in jobs:
        job.run()
    for job in jobs:
        job.wait()
    return all(job.error is None for job in jobs)
