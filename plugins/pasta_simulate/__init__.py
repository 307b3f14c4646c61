"""Simulation: many trajectories of a user model against an agent, written as resumable
Parquet shards (``pasta simulate``), on this process, a local pool or Ray.

Modules: :mod:`~pasta_simulate.simulate` (``simulate``, ``SimulationSpec``: the entry
point), :mod:`~pasta_simulate.simulator` (one simulation's components and episodes),
:mod:`~pasta_simulate.shards` (the shard files and manifest), :mod:`~pasta_simulate.executors`
(where work runs), :mod:`~pasta_simulate.pool` (worker pools that end with their parent),
:mod:`~pasta_simulate.render` (many renders on an executor). See docs/scaling.md.
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


@hookimpl
def pasta_register_commands(cli: Any) -> None:
    from pasta_simulate.commands import simulate_command

    cli.add_command(simulate_command)
