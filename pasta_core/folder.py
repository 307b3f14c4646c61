"""The session folder: the one owner of its layout and files.

    <folder>/session.json            what defines the session (prompt, seed, config, components)
    <folder>/trajectory.parquet      the answered turns (format: docs/data-format.md)
    <folder>/grids/turn-T.png        the labelled 4 x 4 picture of each turn
    <folder>/images/turn-T/col-C-img-M.png   every image (1-based)

:class:`~pasta_core.session.Session`, ``pasta run --resume`` and the web app read and
write session folders through :class:`SessionFolder` only. Every file is written
atomically; what is read is validated, and a bad file is named in the error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pasta_core.errors import SessionError
from pasta_core.png import save_png
from pasta_core.store import read_trajectories, write_trajectories
from pasta_core.types import Column, History, Trajectory, Turn

if TYPE_CHECKING:
    from pasta_core.protocols import T2IModel

SESSION_FILE = "session.json"
TRAJECTORY_FILE = "trajectory.parquet"


def image_ref(turn: int, column: int, image: int) -> str:
    """Where an image is saved, relative to the session folder (all 1-based)."""
    return f"images/turn-{turn}/col-{column}-img-{image}.png"


def image_refs(turn: int, columns: Sequence[Column]) -> list[list[str]]:
    """The references of every image of a turn's columns."""
    return [[image_ref(turn, c, m) for m in range(1, len(column.images) + 1)]
            for c, column in enumerate(columns, start=1)]


class SessionFolder:
    """Reads and writes one session folder (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

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
        return state

    def write_state(self, state: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_text(self.state_file, json.dumps(state, indent=2, sort_keys=True))

    # -- trajectory.parquet -------------------------------------------------------------

    def read_history(self, initial_prompt: str) -> History:
        """The answered turns (none before the first answer)."""
        if not self.trajectory_file.is_file():
            return History(initial_prompt)
        trajectories = list(read_trajectories(self.trajectory_file))
        if len(trajectories) != 1:
            raise SessionError(f"{self.trajectory_file} holds {len(trajectories)} sessions, expected 1")
        history = trajectories[0].history
        if history.initial_prompt != History(initial_prompt).initial_prompt:
            raise SessionError(f"{self.trajectory_file} belongs to another prompt than {self.state_file}")
        return history

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
        save_png(image, self.inside(ref))

    def write_picture(self, picture: Any, path: Path) -> None:
        """Write a picture of the folder (a grid) atomically."""
        save_png(picture, path)

    def missing_images(self, turn: Turn) -> list[tuple[int, int]]:
        """(column, image) of the turn's recorded images not on disk (0-based)."""
        return [(c, m) for c, refs in enumerate(turn.image_refs) for m, ref in enumerate(refs)
                if not self.inside(ref).is_file()]

    def restore_images(self, turn: Turn, t2i: T2IModel, only: Iterable[tuple[int, int]] | None = None) -> int:
        """Make again the recorded images of ``turn`` missing from the folder (of those in
        ``only``, 0-based (column, image), when given), from their prompts and seeds in one
        T2I call; with a T2I model seeded per image (every built-in) they are the same
        pictures. Returns how many were made."""
        if only is None:
            missing = self.missing_images(turn)
        else:
            missing = [(c, m) for c, m in only if not self.inside(turn.image_refs[c][m]).is_file()]
        if missing:
            images = t2i.render([turn.slate[c].text for c, _ in missing], [int(turn.seeds[c][m]) for c, m in missing])
            for (c, m), image in zip(missing, images):
                self.write_image(image, turn.image_refs[c][m])
        return len(missing)

    def saved_columns(self, turn: Turn) -> list[Column]:
        """A recorded turn's columns with their images read back from disk."""
        from PIL import Image

        columns = []
        for candidate, seeds, refs in zip(turn.slate, turn.seeds, turn.image_refs):
            images = []
            for ref in refs:
                with Image.open(self.inside(ref)) as image:
                    images.append(image.copy())
            columns.append(Column(candidate, images, seeds))
        return columns


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
