"""Every bad input listed in issue 22 ends in one clear line (:mod:`tests.fuzz.cases`).

Each case runs ``pasta`` in-process (:func:`tests.fuzz.harness.run_pasta`) and checks the
contract of :func:`tests.fuzz.harness.assert_refused`: a non-zero exit, one line on stderr
naming what is wrong (the file, the key or the option), no traceback, and no file that was
there before changed. The properties in ``test_fuzz_properties.py`` try many more inputs of
the same kinds.

The issue's list, and the cases (ids of ``test_bad_input_is_refused_in_one_line``) that
cover it:

=====================================================  ==========================================================
Issue 22: "Tracebacks instead of errors"                Cases
=====================================================  ==========================================================
truncated or empty ``model.safetensors`` (user)         um-truncated, um-empty, um-show-truncated (+ property)
truncated or empty ``model.safetensors`` (value)        vm-truncated, vm-empty (+ property)
corrupt / empty / 0-row / foreign trajectory on resume  trajectory-garbage, -truncated, -tail-cut, -empty,
                                                        -0-rows, -foreign, -mistyped (+ property)
hand-edited ``session.json``: invalid JSON              state-not-json, state-not-utf8, state-empty, state-list
... wrong types                                         state-seed-text, -seed-float, -turns-text, -config-list,
                                                        -components-text, -user-type-text, ... (+ property)
... missing keys                                        state-no-config, state-no-components, state-no-t2i
``--out`` that is a file or unwritable                  run-out-is-a-file, run-out-inside-a-file,
                                                        test_an_unwritable_out_folder_is_refused
``--seed -5``                                           run-seed-negative
``--t2i-option bogus=1`` / ``size=abc``                 run-t2i-option-unknown, run-t2i-option-mistyped
non-UTF-8 prompt, critique, world file                  run-prompt-not-utf8, run-critique-not-utf8, world-not-utf8
                                                        (and prompt-file-not-utf8)
wrongly typed ``config.json``                           um-config-dim-text, um-config-types-float, ...,
                                                        vm-config-width-text, vm-config-dim-float, ...
``user-model train --batch-size 0``                     train-batch-size-0
world ``reference_images = 0``                          world-reference-images-0
world ``satisfaction_noise = -1``                       world-satisfaction-noise-negative
``pasta serve`` without the ``[web]`` extra             serve-without-web-extra
=====================================================  ==========================================================
Issue 22: "Silently accepted"                           Cases
=====================================================  ==========================================================
``images_per_prompt`` edited in ``session.json``        state-images-per-prompt-edited (and state-slate-size-edited)
``turns`` edited (``10**9``)                            state-turns-huge, state-turns-below-answered
``types = 2.5`` in a world file                         world-types-float, world-of-the-planted-user-model
``user-model train --steps 0``                          train-steps-0 (no checkpoint is written)
``--resume`` with other ``--generator/--t2i/--turns``   run-resume-other-generator, -other-t2i, -other-turns
``--prompt ""``                                         run-prompt-empty, run-prompt-blank
=====================================================  ==========================================================

Checkpoints with non-finite tensors, wrong shapes or names (items 1 and 3) are the
um-nan, um-inf, um-wrong-shape, um-extra-tensor, um-missing-tensor, um-config-types-edited,
vm-nan, vm-wrong-shape, vm-extra-tensor and vm-config-width-edited cases.
"""

from __future__ import annotations

import os
import sys

import pytest

from tests.fuzz.cases import CASES
from tests.fuzz.harness import assert_refused, run_pasta, snapshot


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_in_one_line(case, samples, tmp_path, monkeypatch):
    run = case.make(tmp_path, samples)
    for module in run.hidden_modules:
        monkeypatch.setitem(sys.modules, module, None)
    before = snapshot(tmp_path)
    result = run_pasta(run.argv, run.stdin, run.stdin_errors)
    assert_refused(result, before, run.mentions)


def test_the_cases_cover_the_issue_and_have_distinct_names():
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    assert {c.issue for c in CASES} <= {"T", "S", "B", "X"}
    assert sum(c.issue in "TS" for c in CASES) >= 40


def test_steps_0_writes_no_checkpoint(tmp_path):
    """``user-model train --steps 0`` once saved an untrained model and exited 0."""
    result = run_pasta(["user-model", "train", "--data", f"pickapic:{tmp_path}/x.parquet", "--out",
                        str(tmp_path / "um"), "--steps", "0"])
    assert_refused(result, {}, ("--steps",))
    assert not (tmp_path / "um").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_out_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_pasta(["run", "--user", "sim", "--out", str(locked / "runs")])
        assert_refused(result, snapshot(tmp_path), ("--out", "cannot write"))
    finally:
        locked.chmod(0o700)


def test_a_non_utf8_critique_typed_in_a_c_locale_is_asked_again(tmp_path):
    """In a C locale a terminal's non-UTF-8 bytes arrive as surrogates: the critique is asked
    again (not written to the trajectory, where it could not be stored)."""
    result = run_pasta(["run", "--user", "human", "--prompt", "a red fox", "--turns", "1", "--out", str(tmp_path)],
                       stdin=b"2\n\xff\xfe bright\nbrighter\n", errors="surrogateescape")
    assert result.code == 0 and result.escaped is None, result
    from pasta_core.store import read_trajectories

    (trajectory,) = read_trajectories(next(tmp_path.rglob("trajectory.parquet")))
    assert trajectory.turns[0].critique == "brighter"


def test_debug_shows_the_traceback_of_a_refused_file(samples, tmp_path):
    """``--debug`` lets the error through (the boundary's switch), for a bad file too."""
    from pasta_core.errors import PastaError

    run = CASES[[c.name for c in CASES].index("trajectory-garbage")].make(tmp_path, samples)
    from pasta_cli import main

    with pytest.raises(PastaError, match="trajectory.parquet"):
        main(["--debug", *run.argv])
