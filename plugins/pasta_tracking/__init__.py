"""How training runs are watched: what the training commands share (``user-model train``,
``value train``, ``simulate``), beside the trainers rather than inside them.

- :mod:`pasta_tracking.sinks`: ``--metrics`` backends (``jsonl``, ``tensorboard``, ``wandb``,
  ``mlflow``), each imported only when chosen, fed through the trainers' step callbacks;
- :mod:`pasta_tracking.pace`: the time per step and the estimate of the whole run, logged
  once the first steps are timed;
- :mod:`pasta_tracking.plot`: the loss curve drawn from ``metrics.jsonl`` at the end
  (matplotlib, the ``plot`` extra);
- :mod:`pasta_tracking.runconfig`: ``--config run.toml`` (flags override it) and the
  effective settings saved beside the checkpoint;
- :mod:`pasta_tracking.logs`: the training commands' log lines on stderr, at the level of
  the global ``pasta --log-level`` (info by default);
- :mod:`pasta_tracking.device`: ``--device auto``.

A library like :mod:`pasta_checkpoints`: it registers nothing.
"""
