"""The training commands with pasta_tracking: --config, --metrics, the pace line, the loss
curve, --device auto; value train's reward sources and simulate's folder check (issue 19)."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("torch")

from pasta_core.store import write_trajectories  # noqa: E402
from pasta_selectors import RandomSelector  # noqa: E402
from pasta_value.synthetic import WordWorld  # noqa: E402

TINY = ["--model-option", "encoder=words", "--model-option", "dim=16", "--model-option", "width=16"]


def _sessions(path, count=8, seed=0):
    write_trajectories(path, WordWorld(turns=2).episodes(RandomSelector(), count, seed=seed))
    return path


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def test_value_train_from_a_config_file_with_tensorboard_and_a_loss_curve(cli_runner, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    data = _sessions(tmp_path / "sim.parquet")
    out = tmp_path / "value"
    config = tmp_path / "run.toml"
    config.write_text(f'data = ["{data}"]\nout = "{out}"\nsteps = 40\nbatch-size = 8\nmetrics = "jsonl,tensorboard"\n'
                      'model-option = ["encoder=words", "dim=16", "width=16"]\n')
    result = cli_runner.invoke(["value", "train", "--config", str(config), "--steps", "20"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["training"]["step"] == 20  # the flag won
    assert re.search(r"^device: (cpu|cuda|mps)$", result.output, re.M)
    assert "IQL: " in result.output and "per step (timed over" in result.output and "20 steps take about" in result.output
    assert (out / "loss_curve.png").stat().st_size > 1000 and "loss curve: " in result.output
    assert [e.step for e in _events(out / "tensorboard").Scalars("IQL/loss_q")] == [10, 20]
    saved = (out / "run_config.toml").read_text()
    assert "steps = 20" in saved and 'metrics = ["jsonl", "tensorboard"]' in saved and 'device = "auto"' in saved
    again = cli_runner.invoke(["value", "train", "--config", str(out / "run_config.toml"), "--steps", "30"])
    assert again.exit_code == 0, again.output  # the saved settings rerun (resuming to step 30)
    assert json.loads((out / "config.json").read_text())["training"]["step"] == 30


def test_value_train_refuses_rewards_of_two_user_models_unless_told(cli_runner, tmp_path) -> None:
    sim = tmp_path / "runs" / "sim"
    sim.mkdir(parents=True)
    _sessions(sim / "part-00000.parquet")
    (sim / "simulation.json").write_text(json.dumps({"user_model": "planted", "user_model_options": {"world": "w.toml"}}))
    session = tmp_path / "runs" / "abc123"
    session.mkdir()
    _sessions(session / "trajectory.parquet", count=2, seed=1)
    (session / "session.json").write_text(json.dumps({"user": {"kind": "sim", "model": "simple", "options": {}}}))
    args = ["value", "train", "--data", str(tmp_path / "runs"), "--out", str(tmp_path / "v"), "--steps", "2",
            "--batch-size", "4", *TINY]
    result = cli_runner.invoke(args)
    assert result.exit_code == 1
    assert "2 different user models: planted (world=w.toml)" in result.output and "; simple (" in result.output
    assert "--mix-reward-sources" in result.output and not (tmp_path / "v" / "config.json").exists()
    result = cli_runner.invoke([*args, "--mix-reward-sources"])
    assert result.exit_code == 0, result.output
    assert "rewards from: planted (world=w.toml) (1 files); simple (1 files)" in result.output


def test_simulate_refuses_a_folder_holding_other_sessions(cli_runner, tmp_path) -> None:
    out = tmp_path / "runs"
    (out / "abc123").mkdir(parents=True)
    (out / "abc123" / "session.json").write_text("{}")
    result = cli_runner.invoke(["simulate", "-n", "2", "--out", str(out), "--turns", "1", "--quiet"])
    assert result.exit_code == 1 and "already holds other sessions (abc123/session.json)" in result.output
    assert not (out / "simulation.json").exists()


def test_simulate_takes_a_config_file_and_saves_its_settings(cli_runner, tmp_path) -> None:
    out = tmp_path / "sim"
    config = tmp_path / "sim.toml"
    config.write_text(f'count = 3\nout = "{out}"\nturns = 1\nquiet = true\nt2i-option = ["size=32"]\n')
    result = cli_runner.invoke(["simulate", "--config", str(config), "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "3 trajectories in 1 shards" in result.output
    saved = (out / "run_config.toml").read_text()
    assert "count = 3" in saved and "seed = 4" in saved and 't2i-option = ["size=32"]' in saved
    rerun = cli_runner.invoke(["simulate", "--config", str(out / "run_config.toml")])
    assert rerun.exit_code == 0 and "(0 computed now" in rerun.output  # the same run: nothing to redo


@pytest.mark.slow
def test_user_model_train_with_tensorboard_pace_and_loss_curve(cli_runner, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tests.user_model.fixtures import write_pickapic

    data = write_pickapic(tmp_path / "pap.parquet", users=6, per_user=6)
    out = tmp_path / "um"
    config = tmp_path / "em.toml"
    config.write_text(f'data = "pickapic:{data}"\ntypes = 2\nencoder-option = "dim=32"\nbatch-size = 4\n')
    result = cli_runner.invoke(["user-model", "train", "--config", str(config), "--out", str(out), "--steps", "20",
                                "--metrics", "tensorboard"])
    assert result.exit_code == 0, result.output
    assert "EM: " in result.output and "20 steps take about" in result.output and re.search(r"device: (cpu|cuda|mps)$", result.output, re.M)
    assert [e.step for e in _events(out / "tensorboard").Scalars("EM/loss")] == [10, 20]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2  # jsonl is written with tensorboard
    assert (out / "loss_curve.png").is_file()
    assert 'metrics = ["tensorboard"]' in (out / "run_config.toml").read_text()


def test_a_missing_metrics_backend_stops_training_before_the_data_is_read(cli_runner, tmp_path, monkeypatch) -> None:
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else found(name, *a))
    for command in (["value", "train", "--data", str(tmp_path / "none.parquet")],
                    ["user-model", "train", "--data", f"pickapic:{tmp_path}/none.parquet"]):
        result = cli_runner.invoke([*command, "--out", str(tmp_path / "out"), "--metrics", "jsonl,wandb"])
        assert result.exit_code == 1
        assert result.output.strip() == "Error: wandb is not installed; install it with: pip install 'pasta-t2i[wandb]'"


def test_metrics_none_writes_no_metrics_file_for_either_trainer(cli_runner, tmp_path) -> None:
    """``--metrics none``: no metrics.jsonl (the IQL trainer used to write it always);
    ``--metrics jsonl``: a record per logged step, for value train and user-model train."""
    from tests.user_model.fixtures import write_pickapic

    data = _sessions(tmp_path / "sim.parquet")
    pickapic = write_pickapic(tmp_path / "pap.parquet", users=4, per_user=4)
    commands = {"value": ["value", "train", "--data", str(data), "--steps", "20", "--batch-size", "8", *TINY],
                "um": ["user-model", "train", "--data", f"pickapic:{pickapic}", "--types", "2", "--encoder-option",
                       "dim=16", "--steps", "10", "--batch-size", "4", "--device", "cpu"]}
    for name, command in commands.items():
        for metrics in ("none", "jsonl"):
            out = tmp_path / f"{name}-{metrics}"
            result = cli_runner.invoke([*command, "--out", str(out), "--metrics", metrics])
            assert result.exit_code == 0, result.output
            assert (out / "config.json").is_file()
            written = (out / "metrics.jsonl").is_file()
            assert written == (metrics == "jsonl"), (name, metrics)
            if written:
                steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
                assert steps == ([10, 20] if name == "value" else [10])
