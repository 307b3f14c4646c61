"""Implicit Q-learning (IQL) for value models: the paper's offline training of f(h, p).

Python (a script is an entry point, so it may take the global plugin set; nothing in
this package does)::

    from pasta_core.iql import IQLConfig, build_transitions, train_iql
    from pasta_value.rewards import load_rewarded  # rewards of logged sessions
    from pasta_core.plugins import get_plugins
    trajectories, rewards = load_rewarded(["runs/sim"], mode="sparse")
    data = build_transitions(trajectories, rewards)
    model = get_plugins().create("value-model", "embedded")
    train_iql(model, data, IQLConfig(steps=2000, lr=1e-2), out="runs/value")

Command line: ``pasta value train --data PATH... --out DIR``. Needs torch (``pasta-t2i[train]``).
"""

from pasta_core.iql.losses import expectile_loss, td_loss, td_target, value_loss
from pasta_core.iql.trainer import IQLConfig, IQLTrainer, train_iql
from pasta_core.iql.transitions import Batch, Transitions, build_transitions, sample_batch

__all__ = [
    "Batch",
    "IQLConfig",
    "IQLTrainer",
    "Transitions",
    "build_transitions",
    "expectile_loss",
    "sample_batch",
    "td_loss",
    "td_target",
    "train_iql",
    "value_loss",
]
