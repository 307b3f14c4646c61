"""The ``bench`` command group and its ``perf`` sub-command."""

from __future__ import annotations

from typing import Any

import click

SECTIONS = ("latency", "training", "simulation", "memory")


@click.command("perf")
@click.option("--out", default="bench-perf", show_default=True, help="Folder for perf.json and perf.md.")
@click.option("--quick", is_flag=True, help="Small sizes (about 2 minutes on 2 cores): a smoke test, noisy figures.")
@click.option("--only", default=",".join(SECTIONS), show_default=True,
              help="Comma-separated sections: latency, training, simulation, memory.")
@click.option("--count", "-n", type=click.IntRange(1), default=None,
              help="Trajectories per simulation-throughput run (default 200; 40 with --quick).")
@click.option("--sizes", default=None, help="N values for the memory section (default 200,1000,4000; 50,200 with --quick).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Workers of the process pool and of Ray.")
@click.option("--executors", default="in-process,process,ray", show_default=True,
              help="Executors to compare (ray is skipped with a note when not installed).")
@click.option("--rounds", type=click.IntRange(1, 20), default=None,
              help="Rounds of the simulation-throughput runs, executors taking turns; medians reported "
                   "(default 3; 1 with --quick).")
@click.option("--latency", type=float, default=0.3, show_default=True,
              help="Simulated LLM round trip (s) added to every generator call in the prefetch runs.")
def perf_command(**kw: Any) -> None:
    """Per-turn latency breakdown, EM/IQL step vs bare compute, simulation throughput
    (serial vs process pool vs Ray) and peak memory as N grows; writes JSON and Markdown."""
    from pasta_bench.run import PerfOptions, run_perf

    sections = tuple(s.strip() for s in kw["only"].split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise click.BadParameter(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}", param_hint="--only")
    quick = kw["quick"]
    sizes = kw["sizes"] or ("50,200" if quick else "200,1000,4000")
    options = PerfOptions(
        sections=sections, quick=quick, count=kw["count"] or (40 if quick else 200),
        sizes=tuple(int(s) for s in sizes.split(",")), workers=kw["workers"],
        executors=tuple(e.strip() for e in kw["executors"].split(",") if e.strip()), latency=kw["latency"],
        rounds=kw["rounds"] or (1 if quick else 3),
    )
    from pasta_core.plugins import get_plugins

    files = run_perf(options, kw["out"], get_plugins())
    click.echo(f"report: {files['markdown']}\nfigures: {files['json']}")


def add_commands(cli: Any, plugins: Any) -> None:
    """Add the ``bench`` group with ``perf`` to ``cli``, and let every plugin of
    ``plugins`` add its benchmarks (``pasta_register_bench_commands``); a plugin whose
    hook fails is reported in ``plugins.failures`` and the others keep their commands."""
    bench = click.Group("bench", help="End-to-end benchmarks.")
    bench.add_command(perf_command)
    cli.add_command(bench)
    plugins.call_each("pasta_register_bench_commands", lambda plugin: {"bench": bench})
