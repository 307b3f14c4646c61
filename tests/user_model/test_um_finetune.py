"""The fine-tuning phase: trainable encoders, EM with the encoder trained, checkpoints that
carry the fine-tuned encoder, exact resume, and a frozen phase left as it was."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from pasta_clip_em.build import embed_raw
from pasta_clip_em.checkpoint import ENCODER_FILE
from pasta_clip_em.config import ModelConfig
from pasta_clip_em.em import STATE_FILE, EMTrainer, TrainConfig
from pasta_clip_em.finetune import FinetuneTrainer
from pasta_clip_em.model import build_model
from pasta_clip_em.synthetic import planted_image_labels, planted_world
from pasta_core import get_plugins
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import TrainableEncoder
from pasta_core.testing import check_trainable_encoder

SOFTMAX = get_plugins().create("aggregator", "softmax")  # the aggregator ModelConfig names by default


def create_encoder(name, **options):
    return get_plugins().create("encoder", name, **options)


def _openclip(folder):
    return create_encoder("openclip", model=f"local-dir:{folder}")


def _model(folder, seed=0):
    config = ModelConfig(dim=32, types=2, score_scale=10.0, encoder="openclip",
                         encoder_options={"model": f"local-dir:{folder}"})
    return build_model(config, seed)


def _finetuner(folder, out, steps=8, heads_lr=1e-3, save_every=2):
    labels, _ = planted_image_labels(raters=8, pairs_per_rater=6, seed=1)
    config = TrainConfig(steps=steps, batch_size=4, lr=heads_lr, encoder_lr=1e-3, metrics="jsonl",
                         save_every=save_every, log_every=2, target_every=3)
    return FinetuneTrainer(_model(folder), labels, config, _openclip(folder), out=out, aggregator=SOFTMAX)


def _encoder_weights(trainer):
    return {k: v.detach().clone() for k, v in trainer.encoder_module.state_dict().items()}


@pytest.fixture(scope="module")
def finetuned(tiny_openclip, tmp_path_factory):
    """Encoder-only fine-tuning (heads' learning rate 0) of the tiny CLIP on a planted set."""
    out = tmp_path_factory.mktemp("finetuned")
    trainer = _finetuner(tiny_openclip, out, steps=8, heads_lr=0.0, save_every=100)
    heads = copy.deepcopy(trainer.model.state_dict())
    encoder = _encoder_weights(trainer)
    loss_before = trainer.marginal_nll()
    trainer.train(progress=False)
    return {"trainer": trainer, "out": out, "heads": heads, "encoder": encoder, "loss_before": loss_before}


def test_the_openclip_encoder_is_trainable_and_round_trips_its_weights(tiny_openclip, tmp_path):
    encoder = _openclip(tiny_openclip)
    check_trainable_encoder(encoder)
    pixels = encoder.prepare_images(planted_image_labels(raters=2, pairs_per_rater=1)[0].images[:3])
    assert tuple(pixels.shape) == (3, 3, 32, 32), "the model's own preprocessing, batched"
    before, identity = encoder.encode_text(["a cat"]), encoder.identity
    with torch.no_grad():
        encoder.trainable_module().text_projection.mul_(2.0)
    encoder.save_finetuned(tmp_path / "enc.safetensors")
    assert encoder.identity != identity and "finetuned=" in encoder.identity
    again = create_encoder("openclip", model=f"local-dir:{tiny_openclip}", finetuned=str(tmp_path / "enc.safetensors"))
    assert np.array_equal(again.encode_text(["a cat"]), encoder.encode_text(["a cat"]))
    assert np.allclose(again.encode_text(["a cat"]), 2 * before, atol=1e-5)
    assert again.identity == encoder.identity


@pytest.mark.slow
def test_the_embedded_encoder_fine_tunes_minilm_and_the_image_projection(tmp_path):
    encoder = create_encoder("embedded", dim=32)
    check_trainable_encoder(encoder)
    towers = encoder.trainable_module()
    assert {name for name, _ in towers.named_children()} == {"text", "text_projection", "image_projection"}
    labels, _ = planted_image_labels(raters=2, pairs_per_rater=2, seed=2)
    config = ModelConfig(dim=32, types=2, score_scale=10.0, encoder="embedded", encoder_options={"dim": 32})
    before = {k: v.clone() for k, v in towers.state_dict().items()}
    trainer = FinetuneTrainer(build_model(config), labels, TrainConfig(steps=2, batch_size=2, encoder_lr=1e-3,
                                                                        metrics="none"), encoder, out=tmp_path,
                              aggregator=SOFTMAX)
    trainer.train(progress=False)
    changed = {k.split(".")[0] for k, v in towers.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"text", "text_projection", "image_projection"}
    trainer.save()
    loaded = create_encoder("embedded", dim=32, finetuned=str(tmp_path / ENCODER_FILE))
    assert np.allclose(loaded.encode_text(["a cat"]), encoder.encode_text(["a cat"]), atol=1e-5)
    assert np.array_equal(loaded.encode_images(labels.images[:2]), encoder.encode_images(labels.images[:2]))


def test_fine_tuning_changes_the_encoder_and_lowers_the_training_loss(finetuned):
    trainer = finetuned["trainer"]
    after = _encoder_weights(trainer)
    changed = [k for k, v in after.items() if not torch.equal(v, finetuned["encoder"][k])]
    assert any(k.startswith("visual.") for k in changed) and any(k.startswith("transformer.") for k in changed)
    for key, value in trainer.model.state_dict().items():  # heads' learning rate 0: only the encoder moved
        assert torch.equal(value, finetuned["heads"][key]), key
    assert trainer.marginal_nll() < finetuned["loss_before"] - 0.05, (trainer.marginal_nll(), finetuned["loss_before"])
    records = [json.loads(line) for line in (finetuned["out"] / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 8 and records[-1]["encoder_grad_norm"] > 0


def test_the_checkpoint_reloads_its_fine_tuned_encoder_and_scores_identically(finetuned, tiny_openclip):
    from pasta_clip_em.usermodel import ClipEmUserModel

    trainer, out = finetuned["trainer"], finetuned["out"]
    config = json.loads((out / "config.json").read_text())
    assert config["encoder_state"] == ENCODER_FILE and config["phase"] == "finetune"
    assert (out / ENCODER_FILE).is_file()
    labels = trainer.labels
    in_memory = ClipEmUserModel(trainer.model, trainer.prior_array, aggregator=SOFTMAX, encoder=trainer.encoder)
    reloaded = get_plugins().create("user-model", "clip-em", path=str(out))
    expected = in_memory.scores(labels.texts[0], labels.images[:6])
    assert np.array_equal(reloaded.scores(labels.texts[0], labels.images[:6]), expected)
    base = ClipEmUserModel(trainer.model, trainer.prior_array, aggregator=SOFTMAX, encoder=_openclip(tiny_openclip))
    assert not np.allclose(base.scores(labels.texts[0], labels.images[:6]), expected, atol=1e-4)
    assert reloaded.encoder.identity != base.encoder.identity  # the embedding cache keeps them apart


def test_a_killed_fine_tuning_run_resumes_to_the_same_weights(tiny_openclip, tmp_path):
    full = _finetuner(tiny_openclip, tmp_path / "full", steps=6)
    full.train(progress=False)
    first = _finetuner(tiny_openclip, tmp_path / "cut", steps=6)
    first.train(progress=False, stop_after=3)  # killed after step 3; last save at step 2
    second = _finetuner(tiny_openclip, tmp_path / "cut", steps=6)
    assert second.resume() and second.step_count == 2
    second.train(progress=False)
    for module in ("model", "encoder_module", "target"):
        a, b = getattr(full, module).state_dict(), getattr(second, module).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), (module, key)
    assert np.array_equal(full.prior_array, second.prior_array)


def test_early_stopping_ends_with_the_encoder_of_the_best_state_too(tiny_openclip, tmp_path):
    """The fine-tuning phase's snapshot holds the encoder beside the heads and prior, and is
    kept through a resume: the run ends with the encoder that was measured best, not the
    last step's encoder under the best step's heads."""
    labels, _ = planted_image_labels(raters=12, pairs_per_rater=6, seed=1)
    config = TrainConfig(steps=10, batch_size=4, lr=0.05, encoder_lr=3e-3, metrics="none", save_every=4,
                         target_every=3, validation=0.25, validate_every=1)

    def trainer(out):
        return FinetuneTrainer(_model(tiny_openclip), labels, copy.deepcopy(config), _openclip(tiny_openclip),
                               out=out, aggregator=SOFTMAX)

    measured = {}
    full = trainer(tmp_path / "full")
    full.train(progress=False, on_step=lambda step, _: measured.setdefault(step, _encoder_weights(full)))
    assert full.best.step < 8, full.best.step  # before the resumed step
    for key, value in _encoder_weights(full).items():
        assert torch.equal(value, measured[full.best.step][key]), key
    assert full.marginal_nll(samples=full.validation_samples) == pytest.approx(full.best.nll, rel=1e-5)
    trainer(tmp_path / "cut").train(progress=False, stop_after=9)  # killed after step 9; last save at step 8
    resumed = trainer(tmp_path / "cut")
    assert resumed.resume() and resumed.step_count == 8 and resumed.best.step == full.best.step
    resumed.train(progress=False)
    for module in ("model", "encoder_module"):
        a, b = getattr(full, module).state_dict(), getattr(resumed, module).state_dict()
        assert all(torch.equal(a[key], b[key]) for key in a), module


def _reference_em(model, labels, config, steps):
    """The frozen phase written out by hand: E step with a target network, one AdamW step
    on the posterior-weighted NLL with a gradient clip, EMA prior, target refresh."""
    from pasta_clip_em.losses import make_batch, sample_loglik

    agg = get_plugins().create("aggregator", "softmax")
    target = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    prior = torch.full((model.config.types,), 1.0 / model.config.types)
    trainer = EMTrainer(copy.deepcopy(model), labels, config, aggregator=agg)  # only for its batch order
    for step in range(steps):
        batch = make_batch(labels, trainer.batch_samples(step))
        with torch.no_grad():
            gamma = (sample_loglik(target, agg, batch, config.weights) + prior.log()).softmax(-1)
        loss = -(gamma * sample_loglik(model, agg, batch, config.weights)).sum() / batch.num_labels
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        prior = (1 - config.prior_momentum) * prior + config.prior_momentum * gamma.mean(0)
        if (step + 1) % config.target_every == 0:
            target.load_state_dict(model.state_dict())
    return model, prior


def test_the_frozen_phase_is_unchanged(tmp_path):
    world = planted_world(types=2, dim=8, raters=20, pairs_per_rater=6, seed=3)
    config = TrainConfig(steps=7, batch_size=8, lr=1e-2, target_every=3, save_every=100, metrics="none")
    model = build_model(ModelConfig(dim=8, types=2, score_scale=10.0), seed=0)
    reference, prior = _reference_em(copy.deepcopy(model), world.train, config, steps=7)
    trainer = EMTrainer(model, world.train, config, out=tmp_path, aggregator=SOFTMAX)
    trainer.train(progress=False)
    for key, value in reference.state_dict().items():
        assert torch.allclose(trainer.model.state_dict()[key], value, atol=1e-6), key
    assert np.allclose(trainer.prior_array, (prior / prior.sum()).double().numpy(), atol=1e-6)
    assert len(trainer.optimizer.param_groups) == 1  # no encoder in this phase
    assert not (tmp_path / ENCODER_FILE).exists()
    assert json.loads((tmp_path / "config.json").read_text())["encoder_state"] == ""


def test_phases_do_not_resume_each_others_state(tiny_openclip, tmp_path):
    world = planted_world(types=2, dim=32, raters=6, pairs_per_rater=2, seed=0)
    EMTrainer(_model(tiny_openclip), world.train, TrainConfig(steps=1, metrics="none"), out=tmp_path,
              aggregator=SOFTMAX).train(progress=False)
    assert (tmp_path / STATE_FILE).is_file()
    with pytest.raises(InvalidValueError, match="frozen-phase trainer state"):
        _finetuner(tiny_openclip, tmp_path).resume()


def test_fine_tuning_needs_a_trainable_encoder_and_raw_labels(tiny_openclip, hash_encoder):
    labels, _ = planted_image_labels(raters=2, pairs_per_rater=1)
    model = build_model(ModelConfig(dim=16, types=2))
    assert not isinstance(hash_encoder, TrainableEncoder)
    with pytest.raises(InvalidValueError, match="cannot be fine-tuned"):
        FinetuneTrainer(model, labels, TrainConfig(), hash_encoder, aggregator=SOFTMAX)
    with pytest.raises(InvalidValueError, match="RawLabelSet"):
        FinetuneTrainer(_model(tiny_openclip), embed_raw(labels, _openclip(tiny_openclip)), TrainConfig(),
                        _openclip(tiny_openclip), aggregator=SOFTMAX)


@pytest.mark.slow
def test_cli_fine_tunes_from_a_frozen_checkpoint(cli_runner, tiny_openclip, tmp_path):
    from tests.user_model.fixtures import png, write_pickapic

    data = write_pickapic(tmp_path / "pap.parquet", users=4, per_user=3)
    frozen, tuned = tmp_path / "frozen", tmp_path / "tuned"
    result = cli_runner.invoke(["user-model", "train", "--data", f"pickapic:{data}", "--out", str(frozen),
                                "--types", "2", "--encoder", "openclip", "--encoder-option",
                                f"model=local-dir:{tiny_openclip}", "--steps", "2", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    args = ["user-model", "train", "--phase", "finetune", "--init", str(frozen), "--data", f"pickapic:{data}",
            "--out", str(tuned), "--batch-size", "2", "--save-every", "2", "--encoder-lr", "1e-4"]
    result = cli_runner.invoke([*args, "--steps", "2"])
    assert result.exit_code == 0, result.output
    assert "fine-tuned encoder" in result.output and (tuned / ENCODER_FILE).is_file()
    assert "Resuming at step 2" in cli_runner.invoke([*args, "--steps", "3"]).output
    image = tmp_path / "x.png"
    image.write_bytes(png((200, 40, 40)))
    scores = [json.loads(cli_runner.invoke(["score", "--user-model", str(folder), "--prompt", "a picture 0",
                                            "--json", str(image)]).output)[0]["per_type"] for folder in (frozen, tuned)]
    assert scores[0] != scores[1]
    wrong = cli_runner.runner.invoke(cli_runner.cli, [*args, "--types", "3"])
    assert wrong.exit_code != 0 and "--types" in wrong.output
    no_init = ["user-model", "train", "--phase", "finetune", "--data", f"pickapic:{data}", "--out", str(tmp_path / "x")]
    missing = cli_runner.runner.invoke(cli_runner.cli, no_init)
    assert missing.exit_code != 0 and "--init" in missing.output


def test_a_non_finite_encoder_weight_is_never_saved(tiny_openclip, tmp_path):
    """The fine-tuning phase checks the encoder's weights too before it saves (issue 22)."""
    from pasta_core.training import TrainingDivergedError

    trainer = _finetuner(tiny_openclip, tmp_path, steps=2)
    trainer.train(progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with torch.no_grad():
        next(trainer.encoder_module.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"EM \(finetune\) training diverged at step 2: the tensors "
                                                    r"encoder\.\S+ .*last finite checkpoint \(step 2\)"):
        trainer.save()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
