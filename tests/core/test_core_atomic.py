"""Atomic, durable writes (pasta_core.atomic) and what the trainers share
(pasta_core.training): the non-finite checks."""

from __future__ import annotations

import json
import os

import pytest

from pasta_core import atomic
from pasta_core.atomic import write_atomically, write_bytes, write_json
from pasta_core.training import nonfinite_metrics


@pytest.fixture
def syncs(monkeypatch):
    """The paths fsynced, in order (files and folders)."""
    seen = []
    monkeypatch.setattr(atomic, "sync_file", lambda path: seen.append(("file", os.fspath(path))))
    monkeypatch.setattr(atomic, "sync_folder", lambda path: seen.append(("folder", os.fspath(path))))
    return seen


def test_a_durable_write_syncs_the_file_before_the_move_and_the_folder_after(tmp_path, syncs, monkeypatch):
    moves = []
    real_replace = os.replace

    def replace(src, dst):
        moves.append(len(syncs))  # how many syncs came before the move
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    path = write_bytes(tmp_path / "a.bin", b"new")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["a.bin"]
    assert syncs == [("file", str(tmp_path / ".a.bin.tmp")), ("folder", str(tmp_path))] and moves == [1]


def test_a_write_that_need_not_survive_a_power_loss_syncs_nothing(tmp_path, syncs):
    write_bytes(tmp_path / "image.png", b"png", durable=False, unique=True)
    assert syncs == [] and [p.name for p in tmp_path.iterdir()] == ["image.png"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_json(tmp_path / "state.json", {"step": 1})

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fail)
    assert json.loads(path.read_text()) == {"step": 1} and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_the_real_syncs_run(tmp_path):
    """Without the stand-ins: fsync of a file and of a folder work here."""
    assert write_bytes(tmp_path / "x", b"1").read_bytes() == b"1"


def test_non_finite_metrics_and_tensors_are_named():
    assert nonfinite_metrics({"loss": float("nan"), "grad_norm": float("inf"), "labels": 3, "q": 1.0}) == [
        "loss = nan", "grad_norm = inf"]
    torch = pytest.importorskip("torch")
    from pasta_core.training import nonfinite_tensors

    named = [("a", torch.ones(3)), ("b", torch.tensor([1.0, float("-inf")])), ("steps", torch.tensor(3)),
             ("c", torch.tensor(float("nan")))]
    assert nonfinite_tensors(named) == ["b", "c"] and nonfinite_tensors([]) == []
