"""``pasta simulate``: heavy imports stay inside the command so ``pasta --help`` stays fast."""

from __future__ import annotations

import logging
from typing import Any

import click

from pasta_tracking.runconfig import config_option

log = logging.getLogger(__name__)


@click.command("simulate")
@click.option("-n", "--count", type=click.IntRange(1), required=True, help="Number of trajectories (N).")
@click.option("--out", required=True, help="Folder for the Parquet shards (rerun the same command to resume).")
@click.option("--user-model", default="simple", show_default=True,
              help="Registered user model, checkpoint folder or Hub repo (hf://owner/name).")
@click.option("--user-model-option", multiple=True, metavar="KEY=VALUE", help="e.g. world=world.toml for planted.")
@click.option("--prompts", "prompts_file", default=None, help="Prompt file (one per line, or TSV with 'prompt'); default: packaged PartiPrompts.")
@click.option("--generator", default="template", show_default=True, help="Candidate generator plugin.")
@click.option("--selector", default="random", show_default=True, help="Data-collection policy.")
@click.option("--t2i", default="procedural", show_default=True, help="Text-to-image plugin.")
@click.option("--t2i-option", multiple=True, metavar="KEY=VALUE", help="Default for procedural: size=64.")
@click.option("--turns", type=click.IntRange(1, 50), default=5, show_default=True, help="Turns per session.")
@click.option("--slate-size", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Columns (prompts) shown each turn (L).")
@click.option("--images", type=click.IntRange(1, 16), default=4, show_default=True, help="Images per prompt (M).")
@click.option("--reward", type=click.Choice(["sparse", "dense"]), default="sparse", show_default=True,
              help="Reward at the last turn only (sparse) or at every turn (dense).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run's random streams.")
@click.option("--shard-size", type=click.IntRange(1), default=500, show_default=True,
              help="Trajectories per Parquet shard (the unit of resuming).")
@click.option("--batch-size", type=click.IntRange(1), default=50, show_default=True, help="Episodes run in lock-step.")
@click.option("--embeddings", default="features", show_default=True, help="features | none | encoder:NAME")
@click.option("--save-images", is_flag=True, help="Also write every image as a PNG file beside the shards.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes computing shards.")
@click.option("--executor", type=click.Choice(["in-process", "process", "ray"]), default=None,
              help="Where shards run (default: PASTA_EXECUTOR, else in-process; see docs/scaling.md).")
@click.option("--worker-gpus", type=click.FloatRange(0, 64, min_open=True), default=None,
              help="GPUs each Ray worker reserves (1: its own; 0.5: two share one): one T2I pipeline per worker, "
                   "on its GPU with --t2i-option device=auto. Needs --executor ray.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@config_option
@click.pass_context
def simulate_command(ctx: click.Context, **kw: Any) -> None:
    """Simulate N trajectories of a user model with a data-collection policy."""
    from pasta_tracking.logs import command_logs

    with command_logs():
        _simulate(ctx, kw)


def _simulate(ctx: click.Context, kw: dict[str, Any]) -> None:
    from pasta_checkpoints.resolve import resolve_model
    from pasta_cli.options import parse_options
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_simulate.simulate import SimulationSpec, simulate
    from pasta_tracking.runconfig import effective_settings, save_run_config

    t2i_options = parse_options(kw["t2i_option"], "--t2i-option")
    if kw["t2i"] == "procedural":
        t2i_options.setdefault("size", "64")
    try:
        spec = SimulationSpec(
            count=kw["count"], seed=kw["seed"], user_model=resolve_model(kw["user_model"], "user-model", get_plugins()),
            user_model_options=parse_options(kw["user_model_option"], "--user-model-option"),
            generator=kw["generator"], selector=kw["selector"], t2i=kw["t2i"], t2i_options=t2i_options,
            turns=kw["turns"], slate_size=kw["slate_size"], images_per_prompt=kw["images"],
            reward_mode=kw["reward"], prompts_file=kw["prompts_file"], shard_size=kw["shard_size"],
            embeddings=kw["embeddings"], save_images=kw["save_images"],
        )
        result = simulate(spec, kw["out"], progress=not kw["quiet"], batch_size=kw["batch_size"],
                          workers=kw["workers"], executor=kw["executor"], worker_gpus=kw["worker_gpus"],
                          plugins=get_plugins())
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    save_run_config(kw["out"], effective_settings(ctx), "simulate")
    rate = result.computed / result.seconds if result.seconds > 0 else float("nan")
    log.info("%d trajectories in %d shards at %s (%d computed now, %.2f trajectories/s)",
             result.trajectories, len(result.shards), result.folder, result.computed, rate)
