"""The images shown in earlier turns, kept for generators that read them (``history_images``
in :class:`~pasta_core.protocols.CandidateGenerator`) as ``GenerationRequest.images``."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pasta_core.errors import InvalidValueError, SessionError

if TYPE_CHECKING:
    from pasta_core.folder import SessionFolder
    from pasta_core.types import Column

#: Which earlier images a generator reads: none, the chosen column's, or every column's.
HISTORY_IMAGES = ("none", "chosen", "all")


def shown_images_for(generator: Any, folder: SessionFolder | None = None) -> ShownImages | None:
    """A :class:`ShownImages` for what ``generator`` reads (its ``history_images``), or None
    when it reads none (or has no such attribute)."""
    wanted = getattr(generator, "history_images", "none")
    if wanted not in HISTORY_IMAGES:
        raise InvalidValueError(f"history_images must be one of {', '.join(HISTORY_IMAGES)}; got {wanted!r}")
    return None if wanted == "none" else ShownImages(wanted, folder, getattr(generator, "history_image_side", None))


class ShownImages:
    """The images of a history's turns by (turn, column) (a ``HistoryImages``), safe to
    call from several threads. A slate is kept whole while on show (a prefetched branch may
    choose any column); once answered, only what ``keep`` says, scaled down to at most
    ``max_side`` pixels a side. Turns answered before a resume are read from ``folder``."""

    def __init__(self, keep: str = "chosen", folder: SessionFolder | None = None, max_side: int | None = None) -> None:
        if keep not in HISTORY_IMAGES[1:]:
            raise InvalidValueError(f"keep must be chosen or all; got {keep!r}")
        self.keep = keep
        self.folder = folder
        self.max_side = max_side
        self._images: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._refs: dict[tuple[int, int], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def show(self, turn: int, columns: Sequence[Column]) -> None:
        """Keep every column's images of ``turn`` (1-based), the slate now on show."""
        with self._lock:
            for index, column in enumerate(columns):
                self._images[(turn, index)] = tuple(column.images)

    def answered(self, turn: int, choice: int) -> None:
        """``turn`` was answered with column ``choice``: drop the others unless keeping all,
        and scale the kept ones down to ``max_side``."""
        with self._lock:
            for key in [k for k in self._images if k[0] == turn]:
                if self.keep == "all" or key[1] == choice:
                    self._images[key] = tuple(_smaller(image, self.max_side) for image in self._images[key])
                else:
                    del self._images[key]

    def refer(self, turn: int, choice: int, refs: Sequence[Sequence[str]]) -> None:
        """The saved files (``image_refs``) of an answered ``turn``, read when asked for."""
        with self._lock:
            for index, column in enumerate(refs):
                if self.keep == "all" or index == choice:
                    self._refs[(turn, index)] = tuple(column)

    def images(self, turn: int, column: int) -> tuple[Any, ...]:
        """The images of ``column`` (0-based) of ``turn`` (1-based); empty when not kept."""
        with self._lock:
            kept = self._images.get((turn, column))
            refs = self._refs.get((turn, column), ())
        if kept is not None:
            return kept
        if self.folder is None or not refs:
            return ()
        try:
            return tuple(_smaller(self.folder.read_image(ref), self.max_side) for ref in refs)
        except (OSError, SessionError):
            return ()  # a file gone from disk: the generator goes on without these images


def _smaller(image: Any, max_side: int | None) -> Any:
    """``image`` scaled down to at most ``max_side`` pixels a side (itself when it fits)."""
    if not max_side or max(image.size) <= max_side:
        return image
    smaller = image.copy()
    smaller.thumbnail((max_side, max_side))
    return smaller
