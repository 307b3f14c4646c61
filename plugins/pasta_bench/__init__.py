"""``pasta bench perf``: latency, training-step, simulation-throughput and memory figures.

Joins the shared ``bench`` command group (made by whichever plugin registers first).
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


@hookimpl
def pasta_register_commands(cli: Any) -> None:
    from pasta_bench.cli import add_commands

    add_commands(cli)
