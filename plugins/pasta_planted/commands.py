"""Command line: ``pasta planted sessions|pairs`` and ``pasta bench planted``.

Heavy imports stay inside the command functions so ``pasta --help`` stays fast.
"""

from __future__ import annotations

import click


@click.group("planted")
def planted_group() -> None:
    """Human-like data from a planted world (docs/planted-world.md)."""


@planted_group.command("sessions")
@click.option("--world", "world_file", default=None, help="World TOML file (default: the packaged example).")
@click.option("--out", required=True, help="Folder for the trajectory shards and images.")
@click.option("-n", "--count", type=click.IntRange(1), default=None, help="Sessions (default: [sessions] count).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-images", is_flag=True, help="Do not write image files (the user-model trainer needs them).")
@click.option("--prompts", "prompts_file", default=None)
def sessions_command(world_file: str | None, out: str, count: int | None, seed: int, no_images: bool,
                     prompts_file: str | None) -> None:
    """Multi-turn sessions with the paper's rater answers (choice, satisfaction, comparison)."""
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_planted.data import generate_sessions
    from pasta_planted.world import PlantedWorld

    plugins = get_plugins()
    try:
        shards = generate_sessions(PlantedWorld.from_file(world_file, plugins), out, count, seed,
                                   save_images=not no_images, prompts_file=prompts_file, plugins=plugins)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(shards)} shards in {out}")


@planted_group.command("pairs")
@click.option("--world", "world_file", default=None, help="World TOML file (default: the packaged example).")
@click.option("--out", required=True, help="Parquet file to write (Pick-a-Pic columns).")
@click.option("--raters", type=click.IntRange(1), default=None)
@click.option("--pairs-per-rater", type=click.IntRange(1), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
def pairs_command(world_file: str | None, out: str, raters: int | None, pairs_per_rater: int | None, seed: int) -> None:
    """Single-turn preference pairs in Pick-a-Pic's parquet format, with rater ids."""
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_planted.data import generate_pairs
    from pasta_planted.world import PlantedWorld

    plugins = get_plugins()
    try:
        path = generate_pairs(PlantedWorld.from_file(world_file, plugins), out, raters, pairs_per_rater, seed,
                              plugins=plugins)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"pairs written to {path}")


@click.command("planted")
@click.option("--world", "world_file", default=None, help="World TOML file (default: the packaged example).")
@click.option("--quick", is_flag=True, help="Small sizes ([bench.quick]): at most about 3 minutes.")
@click.option("--out", default="bench-planted", show_default=True, help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Processes evaluating agents.")
def bench_planted_command(world_file: str | None, quick: bool, out: str, seed: int, workers: int) -> None:
    """End-to-end benchmark on a planted world: EM user model, IQL value model, agents."""
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench import run_bench

    try:
        result = run_bench(world_file, out, quick=quick, seed=seed, workers=workers, plugins=get_plugins())
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report: {result['files']['report']}\nfigures: {result['files']['json']}\nplot: {result['files']['plot']}")
