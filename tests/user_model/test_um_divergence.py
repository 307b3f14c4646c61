"""Training never saves a broken model (issue 22, item 3), and a resumed run logs each
step once (item 4).

The case of the issue: EM on a planted world of 12 types (uniform prior, choice
temperature 1.5) went to NaN between steps 40 and 50 and saved a model whose every weight
was NaN, with exit code 0. Here a non-finite loss is forced at a known step instead."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import pasta_clip_em.em as em
from pasta_clip_em.config import ModelConfig
from pasta_clip_em.em import STATE_FILE, EMTrainer, TrainConfig
from pasta_clip_em.model import build_model
from pasta_clip_em.synthetic import planted_world
from pasta_core import get_plugins
from pasta_core.training import TrainingDivergedError
from tests.user_model.fixtures import write_pickapic


def _poison_from(monkeypatch, step: int) -> None:
    """From training step ``step`` (1-based) on, every log-likelihood is NaN: the loss,
    the gradients and, after the optimizer step, the weights go NaN."""
    original_step, original_ll = EMTrainer.step, em.sample_loglik

    def step_fn(self, samples):
        if self.step_count + 1 >= step:
            monkeypatch.setattr(em, "sample_loglik", lambda *a, **k: original_ll(*a, **k) * float("nan"))
        return original_step(self, samples)

    monkeypatch.setattr(EMTrainer, "step", step_fn)


def _train_args(data, out, steps):
    return ["user-model", "train", "--data", f"pickapic:{data}", "--out", str(out), "--types", "2",
            "--encoder-option", "dim=8", "--steps", str(steps), "--batch-size", "4", "--save-every", "3"]


def test_a_diverging_em_run_stops_with_an_error_and_keeps_the_last_finite_checkpoint(cli_runner, tmp_path,
                                                                                    monkeypatch):
    data = write_pickapic(tmp_path / "pap.parquet", users=4, per_user=3)
    clean = tmp_path / "clean"
    assert cli_runner.invoke(_train_args(data, clean, 6)).exit_code == 0

    out = tmp_path / "diverged"
    _poison_from(monkeypatch, 8)
    result = cli_runner.runner.invoke(cli_runner.cli, _train_args(data, out, 12))
    assert result.exit_code == 1, result.output
    assert "diverged at step 8" in result.output and "loss = nan" in result.output
    assert "last finite checkpoint (step 6)" in result.output and "Traceback" not in result.output
    # The checkpoint and the trainer state on disk are those of step 6, finite, and equal
    # to a clean run's that stopped there.
    assert json.loads((out / "config.json").read_text())["trained_steps"] == 6
    saved, reference = load_file(str(out / "model.safetensors")), load_file(str(clean / "model.safetensors"))
    assert saved.keys() == reference.keys()
    for key, tensor in saved.items():
        assert torch.isfinite(tensor).all() and torch.equal(tensor, reference[key]), key
    state = load_file(str(out / STATE_FILE))
    assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())


def _aggregator(model):
    return model.config.build_aggregator(get_plugins())


def _small_trainer(out, steps=12, **kw):
    world = planted_world(types=2, dim=8, raters=20, pairs_per_rater=6, seed=3)
    model = build_model(ModelConfig(dim=8, types=2, score_scale=10.0), seed=0)
    config = TrainConfig(steps=steps, batch_size=8, lr=1e-2, save_every=4, target_every=3, log_every=2, **kw)
    return EMTrainer(model, world.train, config, out=out, aggregator=_aggregator(model))


def test_a_divergence_before_the_first_save_saves_nothing(tmp_path, monkeypatch):
    _poison_from(monkeypatch, 2)
    trainer = _small_trainer(tmp_path)
    with pytest.raises(TrainingDivergedError, match="step 2: the metrics loss = nan.*saved no checkpoint"):
        trainer.train(progress=False)
    assert not (tmp_path / "model.safetensors").exists() and not (tmp_path / STATE_FILE).exists()


def test_a_non_finite_weight_is_never_saved(tmp_path):
    trainer = _small_trainer(tmp_path, steps=4)
    trainer.train(progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("inf"))
    with pytest.raises(TrainingDivergedError, match=r"step 4: the tensors model\.\S+ went non-finite"):
        trainer.save()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_a_run_ending_on_non_finite_weights_raises_without_a_folder(monkeypatch):
    trainer = _small_trainer(None, steps=3)
    original = trainer.optimizer.step

    def blow_up(*args, **kwargs):
        original(*args, **kwargs)
        if trainer.step_count == 2:  # in the last step, after its (finite) loss
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))

    monkeypatch.setattr(trainer.optimizer, "step", blow_up)
    with pytest.raises(TrainingDivergedError, match="step 3.*Nothing was saved"):
        trainer.train(progress=False)


def _steps(path):
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_a_resumed_run_logs_each_step_once(tmp_path):
    full = _small_trainer(tmp_path / "full")
    full.train(progress=False)
    first = _small_trainer(tmp_path / "cut")
    first.train(progress=False, stop_after=6)  # killed after step 6; last save at step 4
    with open(tmp_path / "cut" / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 7, "loss"')  # a line a kill cut short
    second = _small_trainer(tmp_path / "cut")
    assert second.resume() and second.step_count == 4
    second.train(progress=False)
    assert _steps(tmp_path / "cut" / "metrics.jsonl") == _steps(tmp_path / "full" / "metrics.jsonl") == [
        2, 4, 6, 8, 10, 12]
    np.testing.assert_allclose(
        [json.loads(line)["loss"] for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()],
        [json.loads(line)["loss"] for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()])


def test_a_fresh_run_replaces_the_log_of_an_earlier_one(tmp_path):
    _small_trainer(tmp_path, steps=6).train(progress=False)
    _small_trainer(tmp_path, steps=4).train(progress=False)  # not resumed: starts over
    assert _steps(tmp_path / "metrics.jsonl") == [2, 4]
