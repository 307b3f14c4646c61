"""The images of a pair's history, for the exports that carry them (``pasta distill data
--images``).

``last``: the chosen column's M images of the turn before the pair's turn; ``all``: the
chosen column's images of every earlier turn (at most ``max_images`` a row, whole turns
from the latest back; a single turn over the limit keeps its first images). Turn 1 has no
earlier images, so its rows are text only. Each image is scaled down to at most ``size``
pixels on its longer side (never up), in RGB, and encoded as PNG.

Where they come from: a recorded session's files (``image_refs``, relative to the folder
of its trajectory file, as a session folder and ``pasta simulate --save-images`` write
them), and for sessions without files (the teacher's simulated sessions) the T2I model
that rendered them, asked again with the recorded prompt and seeds (every built-in T2I
model is seeded per image, so they are the same pictures). Images are made row by row and
kept for one session at a time, so memory does not grow with the number of sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError, SessionError
from pasta_core.types import History, Turn
from pasta_llm import ImagePart
from pasta_llm.images import column_caption, encode_image

#: The values of ``--images``.
IMAGE_MODES = ("none", "last", "all")
#: The longest side of an exported image by default, in pixels.
DEFAULT_IMAGE_SIZE = 256
#: Images a row carries at most by default: OpenAI's documented limit per example (10).
DEFAULT_MAX_IMAGES = 10


@attrs.frozen
class ImageExport:
    """Which history images the exports carry, their longest side and how many a row holds."""

    mode: str = "none"
    size: int = DEFAULT_IMAGE_SIZE
    max_images: int = DEFAULT_MAX_IMAGES

    def __attrs_post_init__(self) -> None:
        if self.mode not in IMAGE_MODES:
            raise InvalidValueError(f"--images must be one of {', '.join(IMAGE_MODES)}; got {self.mode!r}")
        if self.size < 16:
            raise InvalidValueError(f"--image-size must be at least 16 pixels, got {self.size}")
        if self.max_images < 1:
            raise InvalidValueError(f"--max-images must be at least 1, got {self.max_images}")

    @property
    def on(self) -> bool:
        return self.mode != "none"


def png_of(image: Any, size: int) -> bytes:
    """``image`` (PIL) in RGB, scaled down to at most ``size`` pixels a side, as PNG bytes."""
    return encode_image(image, size, "PNG")


def wanted_turns(history: History, export: ImageExport) -> list[int]:
    """The (1-based) earlier turns whose chosen images a row of ``history`` carries."""
    count = len(history.turns)
    if not export.on or count == 0:
        return []
    return [count] if export.mode == "last" else list(range(1, count + 1))


def _count(turn: Turn) -> int:
    """How many images the chosen column of ``turn`` recorded (0 when unknown)."""
    refs = turn.image_refs[turn.choice] if turn.image_refs else ()
    return len(refs) or (len(turn.seeds[turn.choice]) if turn.seeds else 0)


class SessionImages:
    """The chosen columns' images of sessions' turns as PNG :class:`~pasta_llm.ImagePart` lists
    (captioned as the LLM generators caption the images they send).

    ``folders`` maps a session id to the folder its ``image_refs`` are relative to;
    ``t2i`` (optional) renders a turn without image files again from its prompt and seeds.
    The images of one session are kept until a row of another session is asked for."""

    def __init__(self, export: ImageExport, folders: Mapping[str, Path] | None = None, t2i: Any = None) -> None:
        self.export = export
        self.folders = dict(folders or {})
        self.t2i = t2i
        self._session: str | None = None
        self._kept: dict[int, list[ImagePart]] = {}

    def of(self, session_id: str, history: History) -> list[ImagePart]:
        """The images a row of ``history`` (of session ``session_id``) carries, in turn order."""
        if session_id != self._session:
            self._session, self._kept = session_id, {}
        chosen: list[list[ImagePart]] = []
        room = self.export.max_images
        for number in reversed(wanted_turns(history, self.export)):
            turn = history.turns[number - 1]
            if _count(turn) > room:  # known before anything is read or rendered
                if not chosen:  # the latest turn alone is over the limit: its first images
                    chosen.append(self._turn(session_id, number, turn)[:room])
                break
            images = self._turn(session_id, number, turn)
            chosen.insert(0, images)
            room -= len(images)
        return [image for turn in chosen for image in turn]

    def _turn(self, session_id: str, number: int, turn: Turn) -> list[ImagePart]:
        if number not in self._kept:
            pictures = self._pictures(session_id, number, turn)
            self._kept[number] = [
                ImagePart(column_caption(number, turn.choice, True, m, len(pictures)), "image/png",
                          png_of(picture, self.export.size))
                for m, picture in enumerate(pictures, start=1)]
        return self._kept[number]

    def _pictures(self, session_id: str, number: int, turn: Turn) -> Sequence[Any]:
        where = f"session {session_id} turn {number}"
        refs = turn.image_refs[turn.choice] if turn.image_refs else ()
        folder = self.folders.get(session_id)
        if refs and folder is not None:
            from pasta_core.folder import SessionFolder

            files = SessionFolder(folder)
            if all(files.inside(ref).is_file() for ref in refs):
                return [files.read_image(ref) for ref in refs]
            if self.t2i is None:
                gone = next(ref for ref in refs if not files.inside(ref).is_file())
                raise SessionError(f"{where}: image file {folder / gone} is missing (restore it, or export with "
                                   "--images none)")
        seeds = turn.seeds[turn.choice] if turn.seeds else ()
        if self.t2i is None or not seeds:
            raise SessionError(f"{where} has no recorded images (no image files, nothing to render them from); "
                               "export with --images none")
        return list(self.t2i.render([turn.chosen.text] * len(seeds), [int(s) for s in seeds]))
