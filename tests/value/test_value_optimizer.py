"""The IQL trainer steps with torch's Adafactor and clip_grad_norm_, and saves their state
in the layout that resumes (the one the earlier hand-written Adafactor wrote too)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file  # noqa: E402

from pasta_core.iql import IQLConfig, IQLTrainer, build_transitions, sample_batch, train_iql  # noqa: E402
from pasta_core.iql.state import STATE_DIR  # noqa: E402
from pasta_core.iql.trainer import make_optimizer  # noqa: E402
from pasta_selectors import RandomSelector  # noqa: E402
from pasta_value.embedded import create_embedded  # noqa: E402
from pasta_value.synthetic import WordWorld  # noqa: E402

STEPS = 3


def _data(turns: int = 2, episodes: int = 20):
    world = WordWorld(turns=turns)
    trajectories = world.episodes(RandomSelector(), episodes, seed=1)
    return build_transitions(trajectories, [t.rewards for t in trajectories])


def _embedded():
    return create_embedded(encoder="words", dim=16, width=16, seed=2)


def _manual_steps(model, data, config: IQLConfig) -> tuple[list[torch.Tensor], list[float]]:
    """STEPS steps written out by hand: the trainer's losses on the trainer's batches, then
    backward, torch's clip_grad_norm_ and a torch.optim.Adafactor step with the config's
    settings. Returns the weights and the gradient norms before clipping."""
    reference = IQLTrainer(model, data, config)
    params = list(model.module.parameters())
    optimizer = torch.optim.Adafactor(params, lr=config.lr, weight_decay=config.weight_decay)
    norms = []
    for step in range(STEPS):
        parts = reference.losses(sample_batch(data, config.batch_size, config.seed, step))
        optimizer.zero_grad(set_to_none=True)
        (parts["loss_q"] + parts["loss_v"]).backward()
        if config.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, config.grad_clip, foreach=True)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        norms.append(float(norm))
        optimizer.step()
    return [p.detach().clone() for p in params], norms


def _assert_trainer_equals_manual(make_model, data, config: IQLConfig) -> list[float]:
    trainer = IQLTrainer(make_model(), data, config)
    norms = [trainer.train_step()["grad_norm"] for _ in range(STEPS)]
    weights, manual_norms = _manual_steps(make_model(), data, config)
    moved = False
    for (name, p), w, start in zip(trainer.model.module.named_parameters(), weights,
                                   make_model().module.parameters()):
        torch.testing.assert_close(p.detach(), w, rtol=0, atol=0, msg=name)
        moved |= not torch.equal(w, start)
    assert moved, "the steps moved no weight"
    assert norms == pytest.approx(manual_norms, rel=1e-6)
    return norms


@pytest.mark.parametrize("grad_clip", [1.0, 1e-3, 0.0])
def test_a_trainer_step_is_torchs_adafactor_after_clip_grad_norm(grad_clip: float) -> None:
    """Three trainer steps equal three hand-written torch steps bit for bit (the paper's
    weight decay 1e-2; clip 1, a clip that bites, and none)."""
    config = IQLConfig(steps=STEPS, batch_size=32, lr=1e-2, grad_clip=grad_clip, seed=3)
    norms = _assert_trainer_equals_manual(_embedded, _data(), config)
    if grad_clip == 1e-3:
        assert min(norms) > grad_clip  # every step was clipped


def test_a_token_level_causal_lm_step_is_torchs_adafactor(tiny_lm) -> None:
    """The same on the tiny causal-LM value model, with token-level TD losses."""
    from pasta_value.causal_lm import create_causal_lm

    config = IQLConfig(steps=STEPS, batch_size=16, lr=1e-2, token_level=True, seed=5)
    _assert_trainer_equals_manual(lambda: create_causal_lm(path=str(tiny_lm)), _data(), config)


def test_the_paper_settings_reach_torchs_optimizer_and_clip(monkeypatch) -> None:
    """Defaults: torch.optim.Adafactor with lr 1e-5 and weight decay 1e-2; clip_grad_norm_ at 1
    with the multi-tensor kernels."""
    config = IQLConfig(batch_size=16)
    assert (config.optimizer, config.lr, config.weight_decay, config.grad_clip) == ("adafactor", 1e-5, 1e-2, 1.0)
    calls = []
    clip = torch.nn.utils.clip_grad_norm_

    def spy(parameters, max_norm, *args, **kwargs):
        calls.append((max_norm, kwargs.get("foreach")))
        return clip(parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    trainer = IQLTrainer(_embedded(), _data(), config)
    assert type(trainer.optimizer) is torch.optim.Adafactor
    group = trainer.optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["foreach"]) == (1e-5, 1e-2, False)  # CPU: the loop
    trainer.train_step()
    assert calls == [(1.0, True)]


@pytest.mark.parametrize("name, kind", [("adamw", "AdamW"), ("adam", "Adam"), ("sgd", "SGD")])
def test_other_optimizers_are_torchs(name: str, kind: str) -> None:
    optimizer = make_optimizer(_embedded().module.parameters(), IQLConfig(optimizer=name))
    assert type(optimizer) is getattr(torch.optim, kind)
    assert optimizer.param_groups[0]["weight_decay"] == 1e-2


def test_saved_optimizer_state_has_the_layout_old_checkpoints_have(tmp_path) -> None:
    """optimizer.safetensors holds, per parameter index, a float32 scalar ``step`` and the
    factored second moment (``row_var`` and ``col_var`` for matrices, ``variance`` for
    vectors) in torch's shapes: the names, shapes and dtypes the hand-written Adafactor of
    earlier versions wrote, so their trainer states resume."""
    config = IQLConfig(steps=2, batch_size=16, lr=1e-2, save_every=2)
    trainer = train_iql(_embedded(), _data(), config, out=tmp_path, progress=False)
    folder = tmp_path / STATE_DIR / "step-00000002"
    tensors = load_file(str(folder / "optimizer.safetensors"))
    expected = {}
    for index, p in enumerate(trainer.model.module.parameters()):
        expected[f"{index}/step"] = ((), torch.float32)
        if p.dim() > 1:
            expected[f"{index}/row_var"] = (tuple(p.shape[:-1]) + (1,), p.dtype)
            expected[f"{index}/col_var"] = (tuple(p.shape[:-2]) + (1, p.shape[-1]), p.dtype)
        else:
            expected[f"{index}/variance"] = (tuple(p.shape), p.dtype)
    assert {k: (tuple(t.shape), t.dtype) for k, t in tensors.items()} == expected
    assert all(float(tensors[f"{i}/step"]) == 2.0 for i in range(len(list(trainer.model.module.parameters()))))
