"""The session folder: the one owner of its layout and files.

    <folder>/session.json            what defines the session (prompt, seed, config, components)
    <folder>/trajectory.parquet      the answered turns (format: docs/data-format.md)
    <folder>/grids/turn-T.png        the labelled picture of each turn (:func:`slate_grid`)
    <folder>/images/turn-T/col-C-img-M.png   every image (1-based)

:class:`~pasta_core.session.Session`, ``pasta run --resume`` and the web app go through
:class:`SessionFolder` only. Files are written atomically; a bad file read is named in the
error. A slate's pictures are :class:`FileJob` objects for a background thread.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pasta_core.atomic import write_bytes, write_text
from pasta_core.config import MAX_SEED, EpisodeConfig
from pasta_core.errors import SessionError
from pasta_core.store import read_trajectories, write_trajectories
from pasta_core.types import Column, History, Trajectory, Turn

if TYPE_CHECKING:
    from PIL.Image import Image

    from pasta_core.protocols import T2IModel

SESSION_FILE = "session.json"
TRAJECTORY_FILE = "trajectory.parquet"


def image_refs(turn: int, columns: Sequence[Column]) -> list[list[str]]:
    """Where every image of a turn's columns is saved, relative to the session folder."""
    return [[f"images/turn-{turn}/col-{c}-img-{m}.png" for m in range(1, len(column.images) + 1)]
            for c, column in enumerate(columns, start=1)]


class FileJob:
    """One file to write, run once by whichever thread claims it first."""

    def __init__(self, write: Callable[[], None]) -> None:
        self._write = write
        self._claim = threading.Lock()
        self._finished = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        """Write the file unless another thread claimed the job; a failure is kept in
        :attr:`error` (an interrupt is raised again too)."""
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
    """Run the unclaimed ``jobs`` in this thread (rather than wait idle), wait for the
    others; True if every one succeeded."""
    jobs = list(jobs)
    for job in jobs:
        job.run()
    for job in jobs:
        job.wait()
    return all(job.error is None for job in jobs)


_HEADER = 40
_GAP = 8


def slate_grid(columns: Sequence[Column], cell: int = 192, title: str | None = None) -> Image:
    """Columns left to right, labelled 1..L on top, images top to bottom."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    rows = max(len(c.images) for c in columns)
    top = _HEADER + (_HEADER if title else 0)
    width = len(columns) * (cell + _GAP) + _GAP
    height = top + rows * (cell + _GAP) + _GAP
    canvas = PILImage.new("RGB", (width, height), (248, 248, 246))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=24)
    if title:
        draw.text((_GAP, 8), title, fill=(40, 40, 40), font=font)
    for c, column in enumerate(columns):
        x = _GAP + c * (cell + _GAP)
        draw.text((x + cell // 2 - 6, top - _HEADER + 6), str(c + 1), fill=(20, 20, 120), font=font)
        for r, image in enumerate(column.images):
            # Box filtering (area average) shrinks well at a third of bicubic's cost.
            shrink = image.width >= cell and image.height >= cell
            thumb = image.convert("RGB").resize((cell, cell), PILImage.Resampling.BOX if shrink else None)
            canvas.paste(thumb, (x, top + r * (cell + _GAP)))
    return canvas


def pillow_png(image: Any, level: int = 1) -> bytes:
    """``image`` as PNG by Pillow's encoder (``level``: zlib's, 1 is fast)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def save_png(image: Any, path: Path, encode: Callable[[Any], bytes] | None = None) -> Path:
    """Write ``image`` as PNG atomically, not synced (an image is made again from its seed);
    unique temporary names let two writers of one file run at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes(path, (encode or pillow_png)(image), durable=False, unique=True)


class SessionFolder:
    """Reads and writes one session folder. ``encode`` gives a picture's PNG bytes
    (default :func:`pillow_png`; ``pasta_png.png_bytes`` is faster)."""

    def __init__(self, path: str | os.PathLike[str], encode: Callable[[Any], bytes] | None = None) -> None:
        self.path = Path(path)
        self.encode = encode

    @property
    def state_file(self) -> Path:
        return self.path / SESSION_FILE

    @property
    def trajectory_file(self) -> Path:
        return self.path / TRAJECTORY_FILE

    def exists(self) -> bool:
        """Whether the folder holds a started session (its ``session.json``)."""
        return self.state_file.is_file()

    # -- session.json -------------------------------------------------------------------

    def read_state(self) -> dict[str, Any]:
        """``session.json`` as a dict; a missing, unreadable or malformed one is refused."""
        if not self.exists():
            raise SessionError(f"{self.path} is not a PASTA session folder (no {SESSION_FILE})")
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SessionError(f"{self.state_file} is not valid JSON ({exc}); restore it or start a new session") from None
        except OSError as exc:
            raise SessionError(f"cannot read {self.state_file}: {exc.strerror or exc}") from None
        if not isinstance(state, dict):
            raise SessionError(f"{self.state_file} must hold a JSON object")
        check_state(state, self.state_file)
        return state

    def write_state(self, state: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_text(self.state_file, json.dumps(state, indent=2, sort_keys=True))

    # -- trajectory.parquet -------------------------------------------------------------

    def read_history(self, initial_prompt: str, config: EpisodeConfig, session_id: str,
                     user_type: int | None) -> History:
        """The answered turns, checked against ``config``, ``session_id`` and ``user_type``
        (those of ``session.json``): a resume must not mix settings or people."""
        if not self.trajectory_file.is_file():
            return History(initial_prompt)
        trajectories = list(read_trajectories(self.trajectory_file))
        if len(trajectories) != 1:
            raise SessionError(f"{self.trajectory_file} holds {len(trajectories)} sessions, expected 1; "
                               "restore it from a copy, or start a new session")
        history = trajectories[0].history
        if history.initial_prompt != History(initial_prompt).initial_prompt:
            raise SessionError(f"{self.trajectory_file} belongs to another prompt than {self.state_file}")
        self._check_trajectory(trajectories[0], config, session_id, user_type)
        return history

    def _check_trajectory(self, trajectory: Trajectory, config: EpisodeConfig, session_id: str,
                          user_type: int | None) -> None:
        where = f"{self.trajectory_file} does not match {self.state_file}"
        fix = "restore session.json or start a new session"
        answered = len(trajectory.turns)
        if answered > config.turns:
            raise SessionError(f"{where}: {answered} turns are answered but 'turns' is {config.turns}; {fix}")
        for number, turn in enumerate(trajectory.turns, start=1):
            if len(turn.slate) > config.slate_size:
                raise SessionError(f"{where}: turn {number} showed {len(turn.slate)} columns but 'slate_size' is "
                                   f"{config.slate_size}; {fix}")
            images = {len(seeds) for seeds in turn.seeds}
            if images and images != {config.images_per_prompt}:
                raise SessionError(f"{where}: turn {number} showed {'/'.join(map(str, sorted(images)))} images per "
                                   f"prompt but 'images_per_prompt' is {config.images_per_prompt}; {fix}")
            unknown = {c.category for c in turn.candidates} - set(config.categories)
            if unknown:
                raise SessionError(f"{where}: turn {number} has categories {sorted(unknown)} that 'categories' "
                                   f"lacks; {fix}")
        if trajectory.session_id != session_id:
            raise SessionError(f"{where}: it holds session {trajectory.session_id!r}, not {session_id!r}; {fix}")
        if None not in (trajectory.user_type, user_type) and trajectory.user_type != user_type:
            raise SessionError(f"{where}: it was played by user type {trajectory.user_type}, not {user_type}; {fix}")

    def answered_turns(self) -> int:
        """How many turns the trajectory file holds (0 when there is none)."""
        if not self.trajectory_file.is_file():
            return 0
        return sum(len(t.turns) for t in read_trajectories(self.trajectory_file))

    def write_trajectory(self, trajectory: Trajectory) -> None:
        write_trajectories(self.trajectory_file, [trajectory])

    # -- pictures -----------------------------------------------------------------------

    def grid_path(self, turn: int) -> Path:
        """Where the labelled grid picture of ``turn`` is (or will be) saved."""
        return self.path / "grids" / f"turn-{turn}.png"

    def inside(self, ref: str) -> Path:
        """The file of a recorded image reference, refused if it leaves the folder."""
        folder = self.path.resolve()
        path = (folder / ref).resolve()
        if folder not in path.parents:
            raise SessionError(f"image path {ref!r} in {self.path} points outside the session folder")
        return path

    def write_image(self, image: Any, ref: str) -> None:
        """Write the image recorded as ``ref`` atomically."""
        save_png(image, self.inside(ref), self.encode)

    def write_grid(self, turn: int, columns: Sequence[Column], title: str) -> None:
        """Write the labelled grid picture of ``turn`` atomically."""
        save_png(slate_grid(columns, title=title), self.grid_path(turn), self.encode)

    def restore_images(self, turn: Turn, t2i: T2IModel, only: Iterable[tuple[int, int]] | None = None) -> int:
        """Make again, in one T2I call from their prompts and seeds, the recorded images of
        ``turn`` missing from the folder (of ``only``'s 0-based (column, image) when given);
        returns how many were made."""
        if only is None:
            only = [(c, m) for c, refs in enumerate(turn.image_refs) for m in range(len(refs))]
        missing = [(c, m) for c, m in only if not self.inside(turn.image_refs[c][m]).is_file()]
        if missing:
            images = t2i.render([turn.slate[c].text for c, _ in missing], [int(turn.seeds[c][m]) for c, m in missing])
            for (c, m), image in zip(missing, images):
                self.write_image(image, turn.image_refs[c][m])
        return len(missing)

    def read_image(self, ref: str) -> Image:
        """The saved image recorded as ``ref`` (loaded: the file is closed)."""
        from PIL import Image as PILImage

        with PILImage.open(self.inside(ref)) as image:
            return image.copy()

    def saved_columns(self, turn: Turn) -> list[Column]:
        """A recorded turn's columns with their images read back from disk."""
        return [Column(candidate, [self.read_image(ref) for ref in refs], seeds)
                for candidate, seeds, refs in zip(turn.slate, turn.seeds, turn.image_refs)]


#: What each key of ``session.json`` holds, in words, with a check.
_STATE_KEYS: dict[str, tuple[str, Any]] = {
    "session_id": ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip())),
    "initial_prompt": ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip())),
    "seed": (f"an integer 0..{MAX_SEED}", lambda v: _integer(v) and 0 <= v <= MAX_SEED),
    "config": ("an object", lambda v: isinstance(v, dict)),
    "components": ("an object", lambda v: isinstance(v, dict)),
}
_OPTIONAL_KEYS: dict[str, tuple[str, Any]] = {
    "user_type": ("a non-negative integer or null", lambda v: v is None or (_integer(v) and v >= 0)),
    "user": ("an object or null", lambda v: v is None or isinstance(v, dict)),
}
_USER_KEYS: dict[str, tuple[str, Any]] = {
    "kind": ('"human" or "sim"', lambda v: v in ("human", "sim")),
    "model": ("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip())),
    "options": ("an object", lambda v: isinstance(v, dict)),
}


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_state(state: dict[str, Any], path: Path) -> None:
    """Raise :class:`SessionError` naming ``path`` and the key unless ``state`` has the
    shape of a ``session.json`` (the config's values are EpisodeConfig's to check)."""
    fix = "restore it or start a new session"
    for key, (words, valid) in _STATE_KEYS.items():
        if key not in state:
            raise SessionError(f"{path} lacks the key {key!r}; {fix}")
        if not valid(state[key]):
            raise SessionError(f"{path}: {key!r} must be {words}, got {_short(state[key])}; {fix}")
    for key, (words, valid) in _OPTIONAL_KEYS.items():
        if not valid(state.get(key)):
            raise SessionError(f"{path}: {key!r} must be {words}, got {_short(state[key])}; {fix}")
    for role, spec in state["components"].items():
        if not (isinstance(spec, dict) and isinstance(spec.get("name"), str) and spec["name"]
                and isinstance(spec.get("options", {}), dict)):
            raise SessionError(f"{path}: components.{role} must be an object with a 'name' (a string) and "
                               f"'options' (an object), got {_short(spec)}; {fix}")
    for key, (words, valid) in _USER_KEYS.items():
        if state.get("user") and key in state["user"] and not valid(state["user"][key]):
            raise SessionError(f"{path}: user.{key} must be {words}, got {_short(state['user'][key])}; {fix}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
