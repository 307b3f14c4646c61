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
    command = [sys.executable, "-c", "from pasta_cli import main; main()", *args, "--out", str(killed)]
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
    from pasta_cli import cli, load_plugin_commands

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


def _manifest(folder: Path) -> dict:
    import json

    return json.loads((folder / "simulation.json").read_text())


def test_a_damaged_shard_is_recomputed_on_rerun(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Rows, size and checksum of every shard are recorded; a rerun over a truncated and a
    corrupted (same size) shard recomputes both, and the result equals a clean run."""
    spec = SimulationSpec(count=6, seed=3, user_model="planted", **SMALL)
    simulate(spec, tmp_path / "clean", progress=False, plugins=get_plugins())
    clean = _bytes(tmp_path / "clean")
    folder = tmp_path / "damaged"
    simulate(spec, folder, progress=False, plugins=get_plugins())
    records = _manifest(folder)["shards"]
    assert sorted(records) == sorted(clean) and all(records[n]["bytes"] == len(clean[n]) for n in clean)
    assert sum(r["rows"] for r in records.values()) == 6 * spec.turns
    truncated, corrupt = folder / "part-00001.parquet", folder / "part-00002.parquet"
    truncated.write_bytes(clean[truncated.name][: len(clean[truncated.name]) // 2])
    data = bytearray(clean[corrupt.name])
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    good = (folder / "part-00000.parquet").stat().st_mtime_ns
    with caplog.at_level("WARNING", logger="pasta_simulate"):
        result = simulate(spec, folder, progress=False, plugins=get_plugins())
    assert result.computed == 4, "the two damaged shards (2 trajectories each) are computed again"
    assert "part-00001.parquet is damaged" in caplog.text and "part-00002.parquet is damaged" in caplog.text
    assert _bytes(folder) == clean and _manifest(folder)["shards"] == records
    assert (folder / "part-00000.parquet").stat().st_mtime_ns == good, "the good shard is kept"
    assert list(read_trajectories(folder)) == list(read_trajectories(tmp_path / "clean"))


def test_a_manifest_without_records_is_still_read(tmp_path: Path) -> None:
    """A manifest from before the records: its shards are read whole; the good ones are
    kept (and recorded), a truncated one is recomputed."""
    import json

    spec = SimulationSpec(count=6, seed=3, user_model="planted", **SMALL)
    folder = tmp_path / "old"
    simulate(spec, folder, progress=False, plugins=get_plugins())
    clean, manifest = _bytes(folder), _manifest(folder)
    records = manifest.pop("shards")
    (folder / "simulation.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))  # the old format
    (folder / "part-00002.parquet").write_bytes(clean["part-00002.parquet"][:-100])
    kept = {n: (folder / n).stat().st_mtime_ns for n in ("part-00000.parquet", "part-00001.parquet")}
    result = simulate(spec, folder, progress=False, plugins=get_plugins())
    assert result.computed == 2 and _bytes(folder) == clean
    assert all((folder / n).stat().st_mtime_ns == t for n, t in kept.items())
    assert _manifest(folder)["shards"] == records


def test_a_shard_of_another_size_is_recomputed(tmp_path: Path) -> None:
    """Without a record, a readable shard must hold the sessions it should."""
    import json

    import pyarrow.parquet as pq

    spec = SimulationSpec(count=4, seed=3, user_model="planted", **SMALL)
    folder = tmp_path / "run"
    simulate(spec, folder, progress=False, plugins=get_plugins())
    clean, manifest = _bytes(folder), _manifest(folder)
    del manifest["shards"]
    (folder / "simulation.json").write_text(json.dumps(manifest))
    table = pq.read_table(folder / "part-00001.parquet")
    pq.write_table(table.slice(0, spec.turns), folder / "part-00001.parquet")  # readable, one session of two
    result = simulate(spec, folder, progress=False, plugins=get_plugins())
    assert result.computed == 2 and _bytes(folder) == clean
