"""Good files to break: a played session folder, a clip-em and an embedded value-model
checkpoint, made once per test session (small: a few seconds in all)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest


@attrs.frozen
class Samples:
    session: Path  # a finished 4-turn session of a simulated user (session.json, trajectory.parquet, images)
    user_model: Path  # a fresh clip-em checkpoint (2 types, 32 dimensions)
    value_model: Path  # a fresh embedded value-model checkpoint (hash encoder)


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    pytest.importorskip("torch")
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_core import get_plugins
    from tests.fuzz.harness import run_pasta

    root = tmp_path_factory.mktemp("samples")
    result = run_pasta(["run", "--user", "sim", "--turns", "4", "--seed", "3", "--out", str(root / "runs")])
    assert result.code == 0 and result.escaped is None, result
    (session,) = (root / "runs").iterdir()
    plugins = get_plugins()
    user_model = plugins.create("user-model", "clip-em", types=2, dim=32, seed=1)
    save_checkpoint(root / "um", user_model.model, user_model.prior)
    plugins.create("value-model", "embedded", encoder="hash", dim=16, width=8).save(root / "vm")
    return Samples(session, root / "um", root / "vm")
