"""Command line: ``pasta planted sessions|pairs|worlds`` and ``pasta bench planted``.

Heavy imports stay inside the command functions so ``pasta --help`` stays fast.
"""

from __future__ import annotations

import click

from pasta_tracking.logs import command_logs


@click.group("planted")
def planted_group() -> None:
    """Human-like data from a planted world (docs/planted-world.md)."""


@planted_group.command("sessions")
@click.option("--world", "world_file", default=None, help="World TOML file (default: the packaged example).")
@click.option("--out", required=True, help="Folder for the trajectory shards and images.")
@click.option("-n", "--count", type=click.IntRange(1), default=None, help="Sessions (default: [sessions] count).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sessions' random streams.")
@click.option("--no-images", is_flag=True, help="Do not write image files (the user-model trainer needs them).")
@click.option("--prompts", "prompts_file", default=None,
              help="Prompt file (one per line, or TSV with 'prompt'); default: packaged PartiPrompts.")
def sessions_command(world_file: str | None, out: str, count: int | None, seed: int, no_images: bool,
                     prompts_file: str | None) -> None:
    """Multi-turn sessions with the paper's rater answers (choice, satisfaction, comparison)."""
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_planted.data import generate_sessions
    from pasta_planted.world import PlantedWorld

    plugins = get_plugins()
    try:
        with command_logs():
            shards = generate_sessions(PlantedWorld.from_file(world_file, plugins), out, count, seed,
                                       save_images=not no_images, prompts_file=prompts_file, plugins=plugins)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(shards)} shards in {out}")


@planted_group.command("pairs")
@click.option("--world", "world_file", default=None, help="World TOML file (default: the packaged example).")
@click.option("--out", required=True, help="Parquet file to write (Pick-a-Pic columns).")
@click.option("--raters", type=click.IntRange(1), default=None, help="Planted raters (default: [pairs] raters).")
@click.option("--pairs-per-rater", type=click.IntRange(1), default=None,
              help="Pairs each rater judges (default: [pairs] pairs_per_rater).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pairs' random streams.")
def pairs_command(world_file: str | None, out: str, raters: int | None, pairs_per_rater: int | None, seed: int) -> None:
    """Single-turn preference pairs in Pick-a-Pic's parquet format, with rater ids."""
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_planted.data import generate_pairs
    from pasta_planted.world import PlantedWorld

    plugins = get_plugins()
    try:
        with command_logs():
            path = generate_pairs(PlantedWorld.from_file(world_file, plugins), out, raters, pairs_per_rater, seed,
                                  plugins=plugins)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"pairs written to {path}")


@planted_group.command("worlds")
@click.option("--n", "count", type=click.IntRange(1, 1000), required=True, help="How many worlds.")
@click.option("--seed", type=int, required=True, help="The set's root seed (another seed: another, disjoint set).")
@click.option("--out", required=True, help="Folder for world-NN.toml and worlds.json.")
def worlds_command(count: int, seed: int, out: str) -> None:
    """Draw a set of varied planted worlds (K* 3-16, choice temperatures 0.3-2, uniform and
    skewed priors, utilities weighting fidelity, colour, composition and style differently)."""
    from pasta_planted.worlds import write_worlds

    paths = write_worlds(count, seed, out)
    click.echo(f"{len(paths)} worlds in {out}")


@click.command("planted")
@click.option("--world", "world_file", default=None, help="World TOML file (default: the packaged example).")
@click.option("--worlds", "worlds_dir", default=None, help="A folder of world files (`pasta planted worlds`): run them all.")
@click.option("--seeds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Training seeds per world (--seed, --seed + 1, ...).")
@click.option("--quick", is_flag=True, help="Small sizes ([bench.quick]): a CI check, not a measurement.")
@click.option("--out", default="bench-planted", show_default=True, help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="The first training seed.")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Processes evaluating agents.")
@click.option("--encoder", default="embedded", show_default=True,
              help="The user model's encoder (embedded, or randconv: shares no code with the planted attributes).")
@click.option("--distill/--no-distill", default=None,
              help="The distillation stage and the distilled agent [as the world files say: off, on with --quick].")
def bench_planted_command(world_file: str | None, worlds_dir: str | None, seeds: int, quick: bool, out: str,
                          seed: int, workers: int, encoder: str, distill: bool | None) -> None:
    """End-to-end benchmark on planted worlds: EM user model, IQL value models, agents
    against the true oracle; figures over worlds and training seeds with 95% intervals."""
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench import run_bench
    from pasta_planted.worlds import world_files

    try:
        if worlds_dir and world_file:
            raise click.UsageError("give --world or --worlds, not both")
        files: list[str | None] = [str(p) for p in world_files(worlds_dir)] if worlds_dir else [world_file]
        with command_logs():  # the stages' progress lines, at the global --log-level
            result = run_bench(files, out, quick=quick, seeds=list(range(seed, seed + seeds)), workers=workers,
                               encoder=encoder, distill=distill, plugins=get_plugins())
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report: {result['files']['report']}\nfigures: {result['files']['json']}\nplot: {result['files']['plot']}")
