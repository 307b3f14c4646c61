"""``pasta value train``: IQL on any mix of human and simulated trajectory files."""

from __future__ import annotations

import logging
from typing import Any

import click

from pasta_checkpoints.hub import push_command
from pasta_tracking.runconfig import config_option
from pasta_tracking.sinks import MetricsChoice

log = logging.getLogger(__name__)

#: Learning rates per backend when --lr is not given. causal-lm: the paper's 1e-5 for a
#: pretrained LM. embedded: trained from scratch, and Adafactor scales each step by
#: the weights' own size, so it needs a far larger rate to learn in minutes.
DEFAULT_LR = {"causal-lm": 1e-5, "embedded": 1e-2}


@click.group("value")
def value_group() -> None:
    """Train value models for the value selector (IQL)."""


value_group.add_command(push_command("value-model"))


@value_group.command("train")
@click.option("--data", "paths", multiple=True, required=True, help="Trajectory Parquet file or folder (repeatable).")
@click.option("--out", required=True, help="Checkpoint folder (an unfinished run there is resumed).")
@click.option("--model", "model_name", default="embedded", show_default=True, help="Value-model plugin.")
@click.option("--model-option", multiple=True, metavar="KEY=VALUE", help="e.g. path=LM_FOLDER, encoder=hash")
@click.option("--steps", type=int, default=10_000, show_default=True, help="Optimizer steps.")
@click.option("--batch-size", type=int, default=128, show_default=True, help="(history, prompt) pairs per step.")
@click.option("--lr", type=float, default=None, help="Learning rate [1e-5 causal-lm, 1e-2 embedded].")
@click.option("--optimizer", type=click.Choice(["adafactor", "adamw", "adam", "sgd"]), default="adafactor", show_default=True,
              help="The optimizer of both networks.")
@click.option("--weight-decay", type=float, default=1e-2, show_default=True, help="Weight decay of the optimizer.")
@click.option("--grad-clip", type=float, default=1.0, show_default=True, help="Gradient-norm clip.")
@click.option("--expectile", type=float, default=0.7, show_default=True, help="IQL's expectile of V (0.5: the mean).")
@click.option("--gamma", type=float, default=1.0, show_default=True, help="Discount per turn.")
@click.option("--target-update", type=int, default=256, show_default=True, help="Steps between target refreshes.")
@click.option("--polyak", type=float, default=0.0, show_default=True, help="Soft target update rate (0: hard refresh).")
@click.option("--token-level", is_flag=True, help="TD loss on every prefix of the prompt (causal-lm).")
@click.option("--reward", type=click.Choice(["sparse", "dense", "shaped"]), default="sparse", show_default=True,
              help="The final turn's utility (sparse), every turn's (dense), or every turn's change in "
                   "utility (shaped: sums to the final one; needs every turn's reward).")
@click.option("--user-model", default=None,
              help="Labels sessions without rewards: a name, checkpoint folder or Hub repo (hf://owner/name).")
@click.option("--user-model-option", multiple=True, metavar="KEY=VALUE",
              help="A setting of the labelling user model (repeatable).")
@click.option("--relabel", is_flag=True, help="Label every session with the user model, even if it has rewards.")
@click.option("--t2i", default=None, help="Re-render missing images from seeds with this T2I plugin when labelling.")
@click.option("--save-every", type=int, default=500, show_default=True,
              help="Steps between checkpoints (a stopped run resumes from the last).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the initialization and batches.")
@click.option("--device", default="auto", show_default=True, help="auto: cuda when torch sees a GPU, else cpu.")
@click.option("--no-resume", is_flag=True, help="Start over even if OUT holds an unfinished run.")
@click.option("--mix-reward-sources", is_flag=True,
              help="Train even when the rewards come from different user models (their scales differ).")
@click.option("--metrics", type=MetricsChoice(), default="jsonl", show_default=True,
              help="Where step metrics go, comma-separated: jsonl (OUT/metrics.jsonl, written with any "
                   "backend), tensorboard, wandb, mlflow (each its own extra), or none (no metrics file).")
@config_option
@click.pass_context
def train_command(ctx: click.Context, **kw: Any) -> None:
    """Fit f(h, p) and V(h) by implicit Q-learning (expectile 0.7, target network)."""
    from pasta_core.errors import PastaError
    from pasta_tracking.logs import command_logs
    from pasta_tracking.runconfig import effective_settings

    with command_logs():
        try:
            _train(kw, effective_settings(ctx))
        except PastaError as exc:
            raise click.ClickException(str(exc)) from exc


def _user_model(kw: dict[str, Any]) -> Any:
    from pasta_checkpoints.resolve import resolve_model
    from pasta_cli.options import parse_options
    from pasta_core.plugins import get_plugins

    if not kw["user_model"]:
        return None
    options = parse_options(kw["user_model_option"], "--user-model-option")
    plugins = get_plugins()
    return plugins.load("user-model", resolve_model(kw["user_model"], "user-model", plugins), **options)


def _train(kw: dict[str, Any], settings: dict[str, Any]) -> None:
    from pasta_cli.options import parse_options
    from pasta_core.iql import IQLConfig, build_transitions, train_iql
    from pasta_core.plugins import get_plugins
    from pasta_distributed import data_parallel
    from pasta_tracking.device import resolve_device
    from pasta_tracking.jsonl import jsonl_log
    from pasta_tracking.run import track_run
    from pasta_tracking.runconfig import save_run_config
    from pasta_tracking.sinks import check_installed
    from pasta_value.provenance import check_sources, describe_model
    from pasta_value.rewards import describe_rewards, load_rewarded

    check_installed(kw["metrics"])  # before the data is read
    parallel = data_parallel()  # under torchrun: join the group first (it pins this process's GPU)
    plugins = get_plugins()
    t2i = plugins.create("t2i", kw["t2i"]) if kw["t2i"] else None
    sources: dict[str, list[str]] = {}
    labeller = describe_model(kw["user_model"], parse_options(kw["user_model_option"], "--user-model-option")) \
        if kw["user_model"] else "the --user-model"
    trajectories, rewards = load_rewarded(
        kw["paths"], kw["reward"], _user_model(kw), t2i, relabel=kw["relabel"], progress=True,
        sources=sources, labelled_by=labeller,
    )
    check_sources(sources, mix=kw["mix_reward_sources"])
    if sources:
        log.info("rewards from: %s", "; ".join(f"{m} ({len(f)} files)" for m, f in sorted(sources.items())))
    log.info("rewards (%s): %s", kw["reward"], describe_rewards(rewards))
    data = build_transitions(trajectories, rewards)
    log.info("%d turns, %d (history, prompt) pairs, %d histories, %d prompts",
             data.num_turns, data.num_pairs, len(data.histories), len(data.candidates))
    options = parse_options(kw["model_option"], "--model-option")
    device = resolve_device(kw["device"])
    log.info("device: %s", device)
    model = plugins.create("value-model", kw["model_name"], device=device, **options)
    config = IQLConfig(
        steps=kw["steps"], batch_size=kw["batch_size"], lr=kw["lr"] or DEFAULT_LR.get(kw["model_name"], 1e-5),
        weight_decay=kw["weight_decay"], grad_clip=kw["grad_clip"], optimizer=kw["optimizer"],
        expectile=kw["expectile"], gamma=kw["gamma"], target_update=kw["target_update"], polyak=kw["polyak"],
        token_level=kw["token_level"], seed=kw["seed"], save_every=kw["save_every"],
    )
    if parallel.is_main:
        save_run_config(kw["out"], settings, "value train")
    with track_run(kw["out"], "IQL", kw["metrics"], config.steps, config.log_every, config=settings) as tracker:
        trainer = train_iql(model, data, config, out=kw["out"], resume=not kw["no_resume"],
                            model_options={"name": kw["model_name"], **options}, parallel=parallel,
                            on_step=tracker.on_step, metrics_log=jsonl_log(kw["metrics"], kw["out"]))
    log.info("value model saved to %s (step %d); use it: pasta run --selector value --value-model %s",
             kw["out"], trainer.step, kw["out"])
