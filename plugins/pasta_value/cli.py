"""``pasta value train``: IQL on any mix of human and simulated trajectory files."""

from __future__ import annotations

from typing import Any

import click

#: Learning rates per backend when --lr is not given. causal-lm: the paper's 1e-5 for a
#: pretrained LM. embedded: trained from scratch, and Adafactor scales each step by
#: the weights' own size, so it needs a far larger rate to learn in minutes.
DEFAULT_LR = {"causal-lm": 1e-5, "embedded": 1e-2}


@click.group("value")
def value_group() -> None:
    """Train value models for the value selector (IQL)."""


@value_group.command("train")
@click.option("--data", "paths", multiple=True, required=True, help="Trajectory Parquet file or folder (repeatable).")
@click.option("--out", required=True, help="Checkpoint folder (an unfinished run there is resumed).")
@click.option("--model", "model_name", default="embedded", show_default=True, help="Value-model plugin.")
@click.option("--model-option", multiple=True, metavar="KEY=VALUE", help="e.g. path=LM_FOLDER, encoder=hash")
@click.option("--steps", type=int, default=10_000, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True, help="(history, prompt) pairs per step.")
@click.option("--lr", type=float, default=None, help="Learning rate [1e-5 causal-lm, 1e-2 embedded].")
@click.option("--optimizer", type=click.Choice(["adafactor", "adamw", "adam", "sgd"]), default="adafactor", show_default=True)
@click.option("--weight-decay", type=float, default=1e-2, show_default=True)
@click.option("--grad-clip", type=float, default=1.0, show_default=True)
@click.option("--expectile", type=float, default=0.7, show_default=True)
@click.option("--gamma", type=float, default=1.0, show_default=True)
@click.option("--target-update", type=int, default=256, show_default=True, help="Steps between target refreshes.")
@click.option("--polyak", type=float, default=0.0, show_default=True, help="Soft target update rate (0: hard refresh).")
@click.option("--token-level", is_flag=True, help="TD loss on every prefix of the prompt (causal-lm).")
@click.option("--reward", type=click.Choice(["sparse", "dense"]), default="sparse", show_default=True)
@click.option("--user-model", default=None, help="Labels sessions without rewards: a name or checkpoint folder.")
@click.option("--user-model-option", multiple=True, metavar="KEY=VALUE")
@click.option("--relabel", is_flag=True, help="Label every session with the user model, even if it has rewards.")
@click.option("--t2i", default=None, help="Re-render missing images from seeds with this T2I plugin when labelling.")
@click.option("--save-every", type=int, default=500, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-resume", is_flag=True, help="Start over even if OUT holds an unfinished run.")
def train_command(**kw: Any) -> None:
    """Fit f(h, p) and V(h) by implicit Q-learning (expectile 0.7, target network)."""
    from pasta_core.errors import PastaError

    try:
        _train(kw)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc


def _user_model(kw: dict[str, Any]) -> Any:
    from pasta_cli.options import parse_options
    from pasta_core.plugins import get_plugins

    if not kw["user_model"]:
        return None
    options = parse_options(kw["user_model_option"], "--user-model-option")
    return get_plugins().load("user-model", kw["user_model"], **options)


def _train(kw: dict[str, Any]) -> None:
    from pasta_cli.options import parse_options
    from pasta_core.iql import IQLConfig, build_transitions, train_iql
    from pasta_core.plugins import get_plugins
    from pasta_distributed import data_parallel
    from pasta_value.rewards import describe_rewards, load_rewarded

    parallel = data_parallel()  # under torchrun: join the group first (it pins this process's GPU)
    plugins = get_plugins()
    t2i = plugins.create("t2i", kw["t2i"]) if kw["t2i"] else None
    trajectories, rewards = load_rewarded(
        kw["paths"], kw["reward"], _user_model(kw), t2i, relabel=kw["relabel"], progress=True
    )
    click.echo(f"rewards ({kw['reward']}): {describe_rewards(rewards)}")
    data = build_transitions(trajectories, rewards)
    click.echo(f"{data.num_turns} turns, {data.num_pairs} (history, prompt) pairs, "
               f"{len(data.histories)} histories, {len(data.candidates)} prompts")
    options = parse_options(kw["model_option"], "--model-option")
    model = plugins.create("value-model", kw["model_name"], device=kw["device"], **options)
    config = IQLConfig(
        steps=kw["steps"], batch_size=kw["batch_size"], lr=kw["lr"] or DEFAULT_LR.get(kw["model_name"], 1e-5),
        weight_decay=kw["weight_decay"], grad_clip=kw["grad_clip"], optimizer=kw["optimizer"],
        expectile=kw["expectile"], gamma=kw["gamma"], target_update=kw["target_update"], polyak=kw["polyak"],
        token_level=kw["token_level"], seed=kw["seed"], save_every=kw["save_every"],
    )
    trainer = train_iql(model, data, config, out=kw["out"], resume=not kw["no_resume"],
                        model_options={"name": kw["model_name"], **options}, parallel=parallel)
    click.echo(f"value model saved to {kw['out']} (step {trainer.step}); "
               f"use it: pasta run --selector value --value-model {kw['out']}")
