"""pasta simulate: reproducible, resumable after a kill, memory bounded by shards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pasta_core.plugins import get_plugins
from pasta_core.store import read_trajectories
from pasta_simulate.simulate import SimulationSpec, load_prompts, read_embeddings, simulate

SMALL = dict(turns=2, slate_size=2, images_per_prompt=2, shard_size=2, t2i_options={"size": 32})


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))}


def test_simulation_is_reproducible(tmp_path: Path) -> None:
    """Same seed: byte-identical shards; another seed: other trajectories."""
    spec = SimulationSpec(count=5, seed=4, user_model="planted", **SMALL)
    simulate(spec, tmp_path / "a", progress=False, plugins=get_plugins())
    simulate(spec, tmp_path / "b", progress=False, plugins=get_plugins())
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b") and len(_bytes(tmp_path / "a")) == 3
    other = SimulationSpec(count=5, seed=5, user_model="planted", **SMALL)
    simulate(other, tmp_path / "c", progress=False, plugins=get_plugins())
    assert _bytes(tmp_path / "a") != _bytes(tmp_path / "c")
    trajectories = list(read_trajectories(tmp_path / "a"))
    assert len(trajectories) == 5
    assert all(t.user_type is not None and t.turns[-1].reward is not None for t in trajectories)
    assert all(t.turns[0].reward == 0.0 for t in trajectories)  # sparse
    _, _, embedding = next(read_embeddings(tmp_path / "a" / "part-00000.parquet"))
    assert embedding.shape == (2, 2, 80)


def test_settings_change_is_refused(tmp_path: Path) -> None:
    """Resuming with other settings is an error, not a silent mix."""
    from pasta_core.errors import SessionError

    simulate(SimulationSpec(count=2, seed=1, user_model="planted", **SMALL), tmp_path, progress=False, plugins=get_plugins())
    with pytest.raises(SessionError, match="other settings"):
        simulate(SimulationSpec(count=2, seed=2, user_model="planted", **SMALL), tmp_path, progress=False, plugins=get_plugins())


def test_prompts_file_keeps_at_most_ten_words(tmp_path: Path) -> None:
    """Prompt files: one per line; prompts over 10 words are dropped."""
    path = tmp_path / "prompts.txt"
    path.write_text("a red cat\n" + " ".join(["word"] * 11) + "\n# comment\nblue sky\n")
    assert load_prompts(path) == ("a red cat", "blue sky")
    assert all(len(p.split()) <= 10 for p in load_prompts())


@pytest.mark.slow
def test_resume_after_a_kill_gives_the_same_shards(tmp_path: Path) -> None:
    """Kill `pasta simulate` after its first shard; the rerun skips it and the result is
    byte-identical to an uninterrupted run."""
    args = ["simulate", "-n", "20", "--user-model", "planted", "--turns", "2", "--slate-size", "2",
            "--images", "2", "--shard-size", "2", "--seed", "9", "--t2i-option", "size=32", "--quiet"]
    assert CliRunner().invoke(_cli(), [*args, "--out", str(tmp_path / "whole")]).exit_code == 0
    killed = tmp_path / "killed"
    command = [sys.executable, "-c", "from pasta_core.cli import main; main()", *args, "--out", str(killed)]
    process = subprocess.Popen(command, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.time() + 120
    while not (killed / "part-00000.parquet").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = sorted(p.name for p in killed.glob("part-*.parquet"))
    assert finished and len(finished) < 10, "the kill should land mid-run"
    before = {name: (killed / name).stat().st_mtime_ns for name in finished}
    result = CliRunner().invoke(_cli(), [*args, "--out", str(killed)])
    assert result.exit_code == 0, result.output
    assert all((killed / name).stat().st_mtime_ns == t for name, t in before.items()), "finished shards are skipped"
    assert _bytes(killed) == _bytes(tmp_path / "whole")


def _cli():
    from pasta_core.cli import cli, load_plugin_commands

    load_plugin_commands()
    return cli


def test_peak_memory_does_not_grow_with_n(tmp_path: Path) -> None:
    """Python allocations peak at the same level for 4 and 12 trajectories (shards of 2)."""
    import tracemalloc

    simulate(SimulationSpec(count=2, seed=0, user_model="planted", **SMALL), tmp_path / "warm", progress=False, plugins=get_plugins())
    peaks = []
    for n in (4, 12):
        tracemalloc.start()
        simulate(SimulationSpec(count=n, seed=0, user_model="planted", **SMALL), tmp_path / f"n{n}", progress=False, plugins=get_plugins())
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] * 1.5 + 2_000_000
