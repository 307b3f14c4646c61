"""``pasta bench``: the benchmark command group, with ``pasta bench perf`` (latency,
training-step, simulation-throughput and memory figures).

This plugin owns the group: other plugins add their benchmarks to it through the
``pasta_register_bench_commands`` hook (``pasta bench planted`` comes from the planted
plugin).
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


@hookimpl
def pasta_register_commands(cli: Any, plugins: Any) -> None:
    from pasta_bench.cli import add_commands

    add_commands(cli, plugins)
