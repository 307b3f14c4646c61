"""Command line: ``pasta simulate``, ``pasta planted sessions|pairs`` and ``pasta bench planted``.

Heavy imports stay inside the command functions so ``pasta --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click


def _options(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    from pasta_core.cli.options import parse_options

    return parse_options(pairs, flag)


@click.command("simulate")
@click.option("-n", "--count", type=click.IntRange(1), required=True, help="Number of trajectories (N).")
@click.option("--out", required=True, help="Folder for the Parquet shards (rerun the same command to resume).")
@click.option("--user-model", default="simple", show_default=True, help="Registered user model or checkpoint folder.")
@click.option("--user-model-option", multiple=True, metavar="KEY=VALUE", help="e.g. world=world.toml for planted.")
@click.option("--prompts", "prompts_file", default=None, help="Prompt file (one per line, or TSV with 'prompt'); default: packaged PartiPrompts.")
@click.option("--generator", default="template", show_default=True)
@click.option("--selector", default="random", show_default=True, help="Data-collection policy.")
@click.option("--t2i", default="procedural", show_default=True)
@click.option("--t2i-option", multiple=True, metavar="KEY=VALUE", help="Default for procedural: size=64.")
@click.option("--turns", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--slate-size", type=click.IntRange(1, 16), default=4, show_default=True)
@click.option("--images", type=click.IntRange(1, 16), default=4, show_default=True, help="Images per prompt (M).")
@click.option("--reward", type=click.Choice(["sparse", "dense"]), default="sparse", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--shard-size", type=click.IntRange(1), default=500, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=50, show_default=True, help="Episodes run in lock-step.")
@click.option("--embeddings", default="features", show_default=True, help="features | none | encoder:NAME")
@click.option("--save-images", is_flag=True, help="Also write every image as a PNG file beside the shards.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes computing shards.")
@click.option("--executor", type=click.Choice(["in-process", "process", "ray"]), default=None,
              help="Where shards run (default: PASTA_EXECUTOR, else in-process; see docs/scaling.md).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate_command(**kw: Any) -> None:
    """Simulate N trajectories of a user model with a data-collection policy."""
    from pasta_core.errors import PastaError
    from pasta_core.simulate import SimulationSpec, simulate

    t2i_options = _options(kw["t2i_option"], "--t2i-option")
    if kw["t2i"] == "procedural":
        t2i_options.setdefault("size", "64")
    try:
        spec = SimulationSpec(
            count=kw["count"], seed=kw["seed"], user_model=kw["user_model"],
            user_model_options=_options(kw["user_model_option"], "--user-model-option"),
            generator=kw["generator"], selector=kw["selector"], t2i=kw["t2i"], t2i_options=t2i_options,
            turns=kw["turns"], slate_size=kw["slate_size"], images_per_prompt=kw["images"],
            reward_mode=kw["reward"], prompts_file=kw["prompts_file"], shard_size=kw["shard_size"],
            embeddings=kw["embeddings"], save_images=kw["save_images"],
        )
        result = simulate(spec, kw["out"], progress=not kw["quiet"], batch_size=kw["batch_size"],
                          workers=kw["workers"], executor=kw["executor"])
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    rate = result.computed / result.seconds if result.seconds > 0 else float("nan")
    click.echo(f"{result.trajectories} trajectories in {len(result.shards)} shards at {result.folder} "
               f"({result.computed} computed now, {rate:.2f} trajectories/s)")


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
    from pasta_planted.data import generate_sessions
    from pasta_planted.world import PlantedWorld

    try:
        shards = generate_sessions(PlantedWorld.from_file(world_file), out, count, seed,
                                   save_images=not no_images, prompts_file=prompts_file)
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
    from pasta_planted.data import generate_pairs
    from pasta_planted.world import PlantedWorld

    try:
        path = generate_pairs(PlantedWorld.from_file(world_file), out, raters, pairs_per_rater, seed)
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
    from pasta_planted.bench import run_bench

    try:
        result = run_bench(world_file, out, quick=quick, seed=seed, workers=workers)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"report: {result['files']['report']}\nfigures: {result['files']['json']}\nplot: {result['files']['plot']}")


def add_commands(cli: Any) -> None:
    """Register the commands (``bench`` is shared: join it if another plugin made it)."""
    if "simulate" not in cli.commands:
        cli.add_command(simulate_command)
    cli.add_command(planted_group)
    bench = cli.commands.get("bench")
    if bench is None:
        bench = click.Group("bench", help="End-to-end benchmarks.")
        cli.add_command(bench)
    bench.add_command(bench_planted_command)
