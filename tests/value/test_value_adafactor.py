"""pasta_core's Adafactor takes torch.optim.Adafactor's steps, and their states interchange;
the IQL trainer's gradient clip follows clip_grad_norm_."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pasta_core.errors import InvalidValueError
from pasta_core.iql.adafactor import Adafactor
from pasta_core.iql.state import _load_optimizer, _optimizer_tensors

SHAPES = [(7, 13), (13,), (3, 4, 5), (1, 9), (1,)]


def _params(seed: int, shapes: list[tuple[int, ...]]) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in shapes]


def _run(make: type, shapes: list[tuple[int, ...]], steps: int, grad_scale: float, seed: int = 0,
         zero_every: int = 0, **options: float) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    params = _params(seed, shapes)
    optimizer = make(params, **options)
    gen = torch.Generator().manual_seed(seed + 1)
    for step in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64) * grad_scale
            if zero_every and step % zero_every == 0:
                p.grad[..., 0] = 0.0  # whole columns / entries with no gradient: the eps1 clamps
        optimizer.step()
    return [p.detach().clone() for p in params], optimizer


def _assert_same_moves(ours: list[torch.Tensor], theirs: list[torch.Tensor], start: list[torch.Tensor]) -> None:
    for a, b, p0 in zip(ours, theirs, start):
        moved = (b - p0).abs().max()
        assert moved > 0
        torch.testing.assert_close(a - p0, b - p0, rtol=1e-9, atol=1e-12 * float(moved))


@pytest.mark.parametrize("options", [
    {"lr": 1e-2},
    {"lr": 1e-5, "weight_decay": 1e-2},
    {"lr": 0.5, "beta2_decay": -0.5, "eps": (1e-20, 1e-2), "d": 2.0},
])
def test_updates_match_torch_adafactor(options: dict) -> None:
    start = [p.detach().clone() for p in _params(0, SHAPES)]
    ours, _ = _run(Adafactor, SHAPES, 25, 1e-3, zero_every=4, **options)
    theirs, _ = _run(torch.optim.Adafactor, SHAPES, 25, 1e-3, zero_every=4, foreach=False, **options)
    _assert_same_moves(ours, theirs, start)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), steps=st.integers(1, 6),
       scale=st.sampled_from([0.0, 1e-12, 1e-4, 1.0, 1e3]), seed=st.integers(0, 2**16))
def test_any_shape_and_gradient_scale_matches_torch(rows: int, cols: int, steps: int, scale: float, seed: int) -> None:
    shapes = [(rows, cols), (cols,)]
    start = [p.detach().clone() for p in _params(seed, shapes)]
    ours, _ = _run(Adafactor, shapes, steps, scale, seed=seed, lr=1e-2)
    theirs, _ = _run(torch.optim.Adafactor, shapes, steps, scale, seed=seed, lr=1e-2, foreach=False)
    for a, b, p0 in zip(ours, theirs, start):
        torch.testing.assert_close(a - p0, b - p0, rtol=1e-9, atol=1e-15)


def test_states_load_across_the_two_optimizers() -> None:
    """A state saved by torch's Adafactor (through the trainer's safetensors layout) continues
    in ours the way torch's would, and back."""
    _, torch_opt = _run(torch.optim.Adafactor, SHAPES, 5, 1e-3, lr=1e-2, foreach=False)
    _, our_opt = _run(Adafactor, SHAPES, 5, 1e-3, lr=1e-2)
    theirs, ours = torch_opt.state_dict()["state"], our_opt.state_dict()["state"]
    assert theirs.keys() == ours.keys()
    for index in theirs:
        assert theirs[index].keys() == ours[index].keys()
        for key, value in theirs[index].items():
            assert value.shape == ours[index][key].shape and value.dtype == ours[index][key].dtype
            torch.testing.assert_close(value, ours[index][key], rtol=1e-9, atol=1e-18)
    start = _params(7, SHAPES)
    continued = []
    for make, saved in ((Adafactor, torch_opt), (torch.optim.Adafactor, our_opt)):
        params = [torch.nn.Parameter(p.detach().clone()) for p in start]
        optimizer = make(params, lr=1e-2)
        _load_optimizer(optimizer, _optimizer_tensors(saved))
        for p in params:
            p.grad = torch.ones_like(p) * 1e-3
        optimizer.step()
        continued.append([p.detach() for p in params])
    for a, b in zip(*continued):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("options", [{"lr": -1.0}, {"beta2_decay": 0.5}, {"eps": (None, -1.0)}, {"d": 0.5},
                                     {"weight_decay": -0.1}])
def test_bad_settings_are_refused(options: dict) -> None:
    with pytest.raises(InvalidValueError):
        Adafactor(_params(0, [(2,)]), **options)


@pytest.mark.parametrize("max_norm", [0.0, 0.5, 1e3])
def test_clip_gradients_follows_clip_grad_norm(max_norm: float) -> None:
    from pasta_core.iql.trainer import clip_gradients

    ours, theirs = _params(3, SHAPES), _params(3, SHAPES)
    for a, b in zip(ours, theirs):
        a.grad = a.detach().clone()
        b.grad = b.detach().clone()
    norm = clip_gradients([p.grad for p in ours], max_norm)
    if max_norm > 0:
        expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    else:
        expected = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in theirs]))
    assert norm == pytest.approx(float(expected), rel=1e-12)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=0)
    if max_norm == 0.5:  # it did clip, to the bound
        clipped = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in ours]))
        assert float(clipped) == pytest.approx(0.5, rel=1e-5)
    bf16 = [p.detach().to(torch.bfloat16) for p in _params(3, SHAPES)]  # summed in float32
    assert clip_gradients(bf16, 0.0) == pytest.approx(norm, rel=1e-2)
