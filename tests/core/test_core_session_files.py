"""What a session writes to its folder when its caller says so: no grid pictures
(``grids=False``), and picture files from PNG bytes the caller gives (``encode``)."""

from __future__ import annotations

from pathlib import Path

from pasta_core import EpisodeConfig
from pasta_core.engine import Agent
from pasta_core.folder import pillow_png
from pasta_core.session import Session
from pasta_core.testing import FakeGenerator, FakeSelector, FakeT2I


def _agent() -> Agent:
    return Agent(FakeGenerator(), FakeSelector(), FakeT2I())


class CountingEncoder:
    """PNG bytes by :func:`pillow_png`, remembering which pictures it was asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, image) -> bytes:
        self.asked.append(id(image))
        return pillow_png(image)


def test_without_grids_only_the_images_and_the_trajectory_are_written(tmp_path):
    session = Session(_agent(), EpisodeConfig(turns=2), seed=3, folder=tmp_path, grids=False)
    session.start("a red boat")
    assert session.grid_path() is None and session.saved_grid() is None
    session.choose(1)
    session.choose(0)
    session.close()
    assert not (tmp_path / "grids").exists()
    pngs = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.png"))
    refs = [Path(ref) for turn in session.history.turns for column in turn.image_refs for ref in column]
    assert pngs == sorted(refs) and len(refs) == 2 * 4 * 4


def test_image_files_hold_the_bytes_the_encoder_gives_once_per_image(tmp_path):
    encoder = CountingEncoder()
    session = Session(_agent(), EpisodeConfig(turns=2), seed=3, folder=tmp_path, encode=encoder)
    columns = session.start("a red boat")
    session.wait_for_files()
    shown = [image for column in columns for image in column.images]
    ids = {id(image) for image in shown}
    assert sorted(a for a in encoder.asked if a in ids) == sorted(ids)  # every image, once each
    assert len(encoder.asked) == len(ids) + 1  # and the grid picture
    session.choose(2)
    session.close()
    turn = session.history.turns[0]
    for column, refs in zip(columns, turn.image_refs):
        for image, name in zip(column.images, refs):
            assert (tmp_path / name).read_bytes() == pillow_png(image)
    assert (tmp_path / "grids" / "turn-1.png").is_file()  # grids stay on unless turned off


def test_resume_keeps_the_callers_file_choices(tmp_path):
    first = Session(_agent(), EpisodeConfig(turns=3), seed=5, folder=tmp_path, grids=False)
    first.start("a quiet harbour")
    first.choose(0)
    first.close()
    encoder = CountingEncoder()
    resumed = Session.resume(tmp_path, agent=_agent(), grids=False, encode=encoder)
    assert resumed.grids is False and resumed.store.encode is encoder
    resumed.choose(3)
    resumed.close()
    assert not (tmp_path / "grids").exists()
    assert len(encoder.asked) == 2 * 16  # the slates of turns 2 and 3, shown after the resume
