"""IQL training never saves a broken model (issue 22, item 3): a non-finite loss or
weight stops the run with an error naming the step, the CLI exits 1 and the checkpoint on
disk is the last finite one; a resumed run logs each step once (item 4)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from safetensors.torch import load_file  # noqa: E402

from pasta_core.iql import IQLConfig, build_transitions, train_iql  # noqa: E402
from pasta_core.iql.trainer import IQLTrainer  # noqa: E402
from pasta_core.store import write_trajectories  # noqa: E402
from pasta_core.training import TrainingDivergedError  # noqa: E402
from pasta_selectors import RandomSelector  # noqa: E402
from pasta_tracking.jsonl import JsonlMetrics  # noqa: E402
from pasta_value.embedded import create_embedded  # noqa: E402
from pasta_value.synthetic import WordWorld  # noqa: E402

TINY = ["--model-option", "encoder=words", "--model-option", "dim=16", "--model-option", "width=16"]
CONFIG = IQLConfig(steps=12, batch_size=32, lr=1e-2, save_every=4, log_every=1, target_update=5, seed=4)


def _poison_from(monkeypatch, step: int) -> None:
    """From step ``step`` (1-based) on, the TD loss is NaN (so are the gradients and then
    the weights)."""
    original = IQLTrainer.losses

    def losses(self, batch):
        parts = original(self, batch)
        if self.step + 1 >= step:
            parts["loss_q"] = parts["loss_q"] * float("nan")
        return parts

    monkeypatch.setattr(IQLTrainer, "losses", losses)


def _invoke(args):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    return CliRunner().invoke(cli, args)


def _train(data, out, steps):
    return _invoke(["value", "train", "--data", str(data), "--out", str(out), "--steps", str(steps),
                    "--batch-size", "16", "--save-every", "3", *TINY])


def test_a_diverging_iql_run_stops_with_an_error_and_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch):
    world = WordWorld(turns=2)
    data = write_trajectories(tmp_path / "sim.parquet", world.episodes(RandomSelector(), 20, seed=0))
    assert _train(data, tmp_path / "clean", 3).exit_code == 0

    out = tmp_path / "diverged"
    _poison_from(monkeypatch, 5)
    result = _train(data, out, 12)
    assert result.exit_code == 1, result.output
    assert "IQL training diverged at step 5" in result.output and "loss_q = nan" in result.output
    assert "last finite checkpoint (step 3)" in result.output and "Traceback" not in result.output
    assert json.loads((out / "config.json").read_text())["training"]["step"] == 3
    assert json.loads((out / "train-state" / "latest.json").read_text())["step"] == 3
    saved, reference = load_file(str(out / "model.safetensors")), load_file(str(tmp_path / "clean" / "model.safetensors"))
    assert saved.keys() == reference.keys()
    for key, tensor in saved.items():
        assert torch.isfinite(tensor).all() and torch.equal(tensor, reference[key]), key


def _data():
    world = WordWorld(turns=2)
    episodes = world.episodes(RandomSelector(), 20, seed=1)
    return build_transitions(episodes, [t.rewards for t in episodes])


def _model():
    return create_embedded(encoder="words", dim=16, width=16, seed=2)


def test_a_divergence_without_a_folder_raises(monkeypatch):
    _poison_from(monkeypatch, 2)
    with pytest.raises(TrainingDivergedError, match="step 2: the metrics loss_q = nan.*Nothing was saved"):
        train_iql(_model(), _data(), CONFIG, progress=False)


def test_a_non_finite_weight_is_never_saved(tmp_path):
    trainer = train_iql(_model(), _data(), IQLConfig(**{**CONFIG.to_dict(), "steps": 4}), out=tmp_path,
                        progress=False)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with torch.no_grad():
        next(trainer.model.module.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"step 4: the tensors online\.\S+ went non-finite.*step 4"):
        trainer.save(tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


class Killed(Exception):
    pass


def test_a_line_cut_short_by_a_kill_is_dropped_on_resume(tmp_path):
    def kill_at_10(step, metrics):
        if step == 10:
            with open(tmp_path / "metrics.jsonl", "a") as handle:
                handle.write('{"step": 11, "loss_q": 0.')  # the kill lands mid-line
            raise Killed

    with pytest.raises(Killed):
        train_iql(_model(), _data(), CONFIG, out=tmp_path, progress=False, on_step=kill_at_10,
                  metrics_log=JsonlMetrics(tmp_path))
    train_iql(_model(), _data(), CONFIG, out=tmp_path, progress=False, metrics_log=JsonlMetrics(tmp_path))
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))
