"""Implicit Q-learning (IQL) for value models: the paper's offline training of f(h, p).

``train_iql(model, build_transitions(trajectories, rewards), IQLConfig(...), out=...)``
(an example in docs/value-model.md); on the command line ``pasta value train``. Needs
torch (``pasta-t2i[train]``).
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
