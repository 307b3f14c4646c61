"""The IQL losses (Kostrikov et al.; the paper's section 3 and DESIGN.md section 2).

- Value (expectile) loss: L_V = E[ L2_tau( Q_target(h, p) - V(h) ) ] with
  L2_tau(u) = |tau - 1(u < 0)| u^2. At tau = 0.5 it is half the squared error; tau > 0.5
  weights under-estimates more, so V(h) tends to an upper expectile of Q over the slate
  prompts the data shows: a soft maximum that never queries unseen prompts.
- TD loss: L_Q = E[ ( r + gamma V(h') - Q(h, p) )^2 ] for every prompt p of the taken
  slate, with V(h') = 0 after the final turn.
"""

from __future__ import annotations

from typing import Any


def expectile_loss(u: Any, tau: float = 0.7) -> Any:
    """L2_tau(u) = |tau - 1(u < 0)| * u^2, elementwise (a torch tensor)."""
    weight = (u < 0).to(u.dtype)
    return (tau - weight).abs() * u.pow(2)


def td_target(reward: Any, next_value: Any, terminal: Any, gamma: float) -> Any:
    """r + gamma * V(h') (no bootstrap after the final turn); ``next_value`` comes from the
    target network and carries no gradient."""
    return reward + gamma * next_value.detach() * (~terminal).to(reward.dtype)


def td_loss(q: Any, target: Any, token_q: Any = None, token_mask: Any = None) -> Any:
    """Mean squared TD error. With ``token_q`` (B, T) and ``token_mask`` the error is taken
    at every prefix of the prompt's tokens against the same target (token-level IQL)."""
    if token_q is None:
        return (target - q).pow(2).mean()
    mask = token_mask.to(token_q.dtype)
    errors = (target[:, None] - token_q).pow(2) * mask
    return errors.sum() / mask.sum().clamp_min(1)


def value_loss(q_target: Any, v: Any, tau: float) -> Any:
    """Mean expectile loss of Q_target(h, p) - V(h); Q_target carries no gradient."""
    return expectile_loss(q_target.detach() - v, tau).mean()
