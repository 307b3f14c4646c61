"""A persisted session's files: the click never waits for image writes, the trajectory row
is on disk when it returns, and a crash's missing images come back on resume."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pasta_core.folder as folder_module
from pasta_core import EpisodeConfig, SessionError
from pasta_core.engine import Agent
from pasta_core.folder import save_png
from pasta_core.session import Session
from pasta_core.store import read_trajectories
from pasta_core.testing import FakeGenerator, FakeSelector, FakeT2I, FakeUserModel
from pasta_users import SimulatedUser


def _fake_session(folder: Path) -> Session:
    agent = Agent(FakeGenerator(), FakeSelector(), FakeT2I())
    return Session(agent, EpisodeConfig(turns=3), seed=1, folder=folder, session_id="w", prefetch=False)


def _pngs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.png"))


def _gate_writes(monkeypatch, only: str = "") -> threading.Event:
    """Hold every PNG write (or those whose path contains ``only``) until the event is set.
    The hold gives up once after 20 s, so that a session that waits for its writer fails
    the test instead of hanging it."""
    gate = threading.Event()

    def held(image, path, encode=None):
        if only in str(path) and not gate.wait(20):
            gate.set()
        save_png(image, path, encode)

    monkeypatch.setattr(folder_module, "save_png", held)
    return gate


def test_the_click_returns_before_the_image_writer_has_written_anything(tmp_path, monkeypatch):
    gate = _gate_writes(monkeypatch)
    session = _fake_session(tmp_path)
    session.start("a small boat")
    try:
        assert session.choose(1) is not None
        # the writer is still held: nothing written, yet the answered turn is on disk
        assert _pngs(tmp_path) == []
        (trajectory,) = read_trajectories(tmp_path / "trajectory.parquet")
        assert [t.choice for t in trajectory.turns] == [1]
        refs = trajectory.turns[0].image_refs
        assert len(refs) == 4 and refs[3][0] == "images/turn-1/col-4-img-1.png"
    finally:
        gate.set()
    session.close()
    assert all((tmp_path / ref).is_file() for column in refs for ref in column)
    assert (tmp_path / "grids" / "turn-1.png").is_file() and (tmp_path / "grids" / "turn-2.png").is_file()


def test_saved_grid_waits_for_the_grid_and_not_for_the_images(tmp_path, monkeypatch):
    gate = _gate_writes(monkeypatch, only="images")
    session = _fake_session(tmp_path)
    session.start("a small boat")
    try:
        grid = session.saved_grid()
        assert grid == tmp_path / "grids" / "turn-1.png" and grid.is_file()
        assert not (tmp_path / "images").exists()
    finally:
        gate.set()
    assert session.wait_for_files(1)
    assert len(_pngs(tmp_path / "images")) == 16
    session.close()


def test_a_failed_write_is_raised_once_before_the_answer_is_recorded(tmp_path, monkeypatch):
    def full(image, path, encode=None):
        raise OSError("No space left on device")

    monkeypatch.setattr(folder_module, "save_png", full)
    session = _fake_session(tmp_path)
    session.start("a small boat")
    assert session.wait_for_files() is False
    with pytest.raises(SessionError, match="turn 1.*No space left"):
        session.choose(0)
    assert session.turn == 1 and not (tmp_path / "trajectory.parquet").exists()
    session.choose(0)  # reported once; the answer goes through on the retry
    assert session.turn == 2
    with pytest.raises(SessionError, match="turn 2"):
        session.close()


def test_a_crash_after_the_click_resumes_with_the_same_images(tmp_path, monkeypatch):
    def play_two_turns(session: Session) -> None:
        user = SimulatedUser(FakeUserModel(), 0)
        session.start("a lighthouse at night")
        for _ in range(2):
            session.choose(user.answer(session.history, session.columns, session.turn).choice)

    config = EpisodeConfig(turns=4)
    whole = Session.create(out=tmp_path / "a", seed=5, session_id="x", config=config)
    play_two_turns(whole)
    whole.close()

    # The process dies with turn 1's files half written and turn 2's not at all.
    written: list[str] = []

    def dying(image, path, encode=None):
        if len(written) < 3:
            written.append(str(path))
            save_png(image, path, encode)

    monkeypatch.setattr(folder_module, "save_png", dying)
    broken = Session.create(out=tmp_path / "b", seed=5, session_id="x", config=config)
    play_two_turns(broken)
    broken.wait_for_files()
    monkeypatch.undo()
    a, b = tmp_path / "a" / "x", tmp_path / "b" / "x"
    missing = [p.relative_to(a) for p in _pngs(a) if not (b / p.relative_to(a)).is_file()]
    assert len(missing) > 30 and Path("grids/turn-2.png") in missing

    resumed = Session.resume(b)
    assert resumed.turn == 3
    resumed.close()
    for path in _pngs(a):
        again = b / path.relative_to(a)
        assert again.is_file(), path
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(again))), path
    assert not list(b.rglob("*.tmp"))


def test_resume_refuses_image_paths_outside_the_session_folder(tmp_path):
    session = _fake_session(tmp_path / "s")
    session.start("a small boat")
    session.choose(0)
    session.close()
    from pasta_core.store import write_trajectories

    (trajectory,) = read_trajectories(tmp_path / "s" / "trajectory.parquet")
    turn = trajectory.turns[0]
    bad = [["../../evil.png"] * len(refs) for refs in turn.image_refs]
    tampered = type(trajectory)(trajectory.session_id, trajectory.initial_prompt,
                                [type(turn)(turn.candidates, turn.slate, turn.choice, seeds=turn.seeds,
                                            image_refs=bad)], metadata=trajectory.metadata)
    write_trajectories(tmp_path / "s" / "trajectory.parquet", [tampered])
    with pytest.raises(SessionError, match="outside the session folder"):
        Session.resume(tmp_path / "s", agent=session.agent)
    assert not (tmp_path / "evil.png").exists()


def test_a_waiting_caller_writes_the_files_the_busy_writer_has_not_started(tmp_path, monkeypatch):
    gate, holding = threading.Event(), threading.Event()
    writers: dict[str, str] = {}

    def writer_held(image, path, encode=None):
        name = threading.current_thread().name
        if name.startswith("pasta-writer"):
            holding.set()
            if not gate.wait(20):
                gate.set()
        writers[Path(path).name] = name
        save_png(image, path, encode)

    monkeypatch.setattr(folder_module, "save_png", writer_held)
    session = _fake_session(tmp_path)
    session.start("a small boat")
    assert holding.wait(20)  # the writer has taken the grid (its first job) and is held there
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(session.wait_for_files(1)), name="waiter")
    waiter.start()
    try:
        for _ in range(400):
            if len(_pngs(tmp_path)) == 16:
                break
            time.sleep(0.05)
        assert len(_pngs(tmp_path / "images")) == 16  # written while the writer was still held
        assert not (tmp_path / "grids" / "turn-1.png").exists() and waiter.is_alive()
    finally:
        gate.set()
    waiter.join(20)
    assert result == [True] and (tmp_path / "grids" / "turn-1.png").is_file()
    assert {name for file, name in writers.items() if file.startswith("col-")} == {"waiter"}
    assert writers["turn-1.png"].startswith("pasta-writer")
    session.close()


def test_each_file_job_runs_once_however_many_threads_finish_it():
    from pasta_core.folder import FileJob, finish

    counts = [0] * 50
    lock = threading.Lock()

    def write(i):
        with lock:
            counts[i] += 1

    jobs = [FileJob(lambda i=i: write(i)) for i in range(50)]
    threads = [threading.Thread(target=finish, args=(jobs,)) for _ in range(4)]
    for t in threads:
        t.start()
    assert finish(jobs) is True
    for t in threads:
        t.join()
    assert counts == [1] * 50


def test_a_failed_file_job_keeps_its_error_and_finish_says_so():
    from pasta_core.folder import FileJob, finish

    def broken():
        raise OSError("disk full")

    ok, bad = FileJob(lambda: None), FileJob(broken)
    assert finish([ok, bad]) is False
    assert ok.error is None and isinstance(bad.error, OSError) and bad.done()
