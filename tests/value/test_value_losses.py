"""The IQL losses and the target network."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from pasta_core.iql import IQLConfig, IQLTrainer, build_transitions  # noqa: E402
from pasta_core.iql.losses import expectile_loss, td_loss, td_target, value_loss  # noqa: E402
from pasta_core.types import Candidate, Trajectory, Turn  # noqa: E402

floats = st.floats(min_value=0.01, max_value=100, allow_nan=False)


@given(u=floats, tau=st.floats(min_value=0.55, max_value=0.95))
def test_expectile_loss_is_asymmetric(u: float, tau: float) -> None:
    """For tau > 0.5 an under-estimate (u > 0) costs more than an over-estimate of the same size."""
    pos = float(expectile_loss(torch.tensor(u), tau))
    neg = float(expectile_loss(torch.tensor(-u), tau))
    assert pos > neg
    assert pos == pytest.approx(tau * u * u, rel=1e-5)
    assert neg == pytest.approx((1 - tau) * u * u, rel=1e-5)


@given(st.lists(st.floats(min_value=-50, max_value=50), min_size=1, max_size=20))
def test_expectile_at_one_half_is_half_the_squared_error(values: list[float]) -> None:
    """At tau = 0.5, L2_tau(u) = u^2 / 2."""
    u = torch.tensor(values, dtype=torch.float64)
    assert torch.allclose(expectile_loss(u, 0.5), 0.5 * u.pow(2))


def test_expectile_minimizer_is_an_upper_expectile() -> None:
    """Minimizing the value loss over a constant V lands above the mean for tau = 0.7."""
    q = torch.tensor([0.0, 0.0, 0.0, 1.0])
    v = torch.zeros((), requires_grad=True)
    opt = torch.optim.SGD([v], lr=0.5)
    for _ in range(500):
        opt.zero_grad()
        value_loss(q, v.expand(4), 0.7).backward()
        opt.step()
    # solves 0.7 * (1 - v) = 0.3 * 3 * v  ->  v = 0.7 / 1.6
    assert v.item() == pytest.approx(0.7 / 1.6, abs=1e-3)
    assert v.item() > q.mean().item()


def test_td_target_stops_at_the_final_turn() -> None:
    """r + gamma V(h') with no bootstrap after the final turn, and no gradient into V(h')."""
    reward = torch.tensor([1.0, 2.0])
    nxt = torch.tensor([10.0, 10.0], requires_grad=True)
    target = td_target(reward, nxt, torch.tensor([False, True]), 0.5)
    assert target.tolist() == [6.0, 2.0]
    assert not target.requires_grad


def test_token_level_td_loss_uses_only_real_prefixes() -> None:
    """Masked positions do not count; every real prefix shares the same target."""
    q = torch.tensor([1.0, 1.0])
    token_q = torch.tensor([[99.0, 1.0, 3.0], [0.0, 2.0, 2.0]])
    mask = torch.tensor([[False, True, True], [True, True, True]])
    loss = td_loss(q, torch.tensor([1.0, 2.0]), token_q, mask)
    assert float(loss) == pytest.approx((0 + 4 + 4 + 0 + 0) / 5)


class _Table:
    """A minimal trainable value model: one Q number per candidate, one V per history."""

    plugin = "table"
    supports_token_level = False

    def __init__(self, histories: int, candidates: int) -> None:
        self.module = torch.nn.Module()
        self.module.q = torch.nn.Parameter(torch.zeros(candidates))
        self.module.v = torch.nn.Parameter(torch.zeros(histories))

    def prepare(self, histories, candidates):
        return None

    def pair_outputs(self, module, prepared, hi, ci, token_level=False):
        from pasta_core.protocols import PairOutputs

        return PairOutputs(q=module.q[ci], v=module.v[hi])

    def history_values(self, module, prepared, hi):
        return module.v[hi]

    def save(self, folder, extra=None):
        raise NotImplementedError


def _two_turn_data():
    a, b = Candidate("a", "x"), Candidate("b", "y")
    turns = [Turn([a, b], [a, b], 0), Turn([a, b], [a, b], 1, reward=1.0)]
    trajectory = Trajectory("s", "p", turns)
    return build_transitions([trajectory], [[0.0, 1.0]])


def test_td_target_uses_the_target_network() -> None:
    """V(h') in the TD target comes from the target copy, not the online network."""
    data = _two_turn_data()
    model = _Table(len(data.histories), len(data.candidates))
    trainer = IQLTrainer(model, data, IQLConfig(batch_size=4, gamma=1.0))
    with torch.no_grad():
        model.module.v.fill_(5.0)  # online moves; the target still holds zeros
    from pasta_core.iql.transitions import sample_batch

    b = sample_batch(data, 8, 0, 0)
    parts = trainer.losses(b)
    expected = np.where(b.next_history >= 0, 0.0, 1.0)  # r + V_target(h') = 0 + 0 mid-episode
    assert np.allclose(parts["target"].numpy(), expected)
    trainer.target.load_state_dict(model.module.state_dict())
    parts = trainer.losses(b)
    assert np.allclose(parts["target"].numpy(), np.where(b.next_history >= 0, 5.0, 1.0))


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=1, max_value=5))
def test_target_refreshes_every_target_update_steps(period: int) -> None:
    """The target equals the online network right after each refresh and lags in between."""
    data = _two_turn_data()
    model = _Table(len(data.histories), len(data.candidates))
    trainer = IQLTrainer(model, data, IQLConfig(batch_size=4, lr=0.1, optimizer="sgd", target_update=period))
    for _ in range(2 * period):
        trainer.train_step()
        same = torch.equal(trainer.target.q, model.module.q)
        assert same == (trainer.step % period == 0)


def test_polyak_moves_the_target_part_way() -> None:
    """With polyak = 0.5 the target moves half way to the online network each step."""
    data = _two_turn_data()
    model = _Table(len(data.histories), len(data.candidates))
    trainer = IQLTrainer(model, data, IQLConfig(batch_size=4, lr=0.1, optimizer="sgd", polyak=0.5))
    before = trainer.target.q.clone()
    trainer.train_step()
    assert torch.allclose(trainer.target.q, 0.5 * (before + model.module.q.detach()))
