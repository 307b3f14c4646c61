"""``pasta distill data`` and ``pasta distill train`` (heavy imports inside the commands)."""

from __future__ import annotations

from typing import Any

import click


@click.group("distill")
def distill_group() -> None:
    """Distill an agent (generator + selector) into one model that proposes the slate."""


def _one_line(function: Any, kw: dict[str, Any]) -> None:
    """Run a command's work with its log lines shown (at the global --log-level); a PASTA
    error is one line."""
    from pasta_core.errors import PastaError
    from pasta_tracking.logs import command_logs

    with command_logs():
        try:
            function(kw)
        except PastaError as exc:
            raise click.ClickException(str(exc)) from exc


@distill_group.command("data")
@click.option("--out", required=True, help="Folder for openai.jsonl, gemini.jsonl, pairs.parquet and data.json.")
@click.option("--sessions", multiple=True, help="Recorded sessions: session folders, trajectory Parquet files or folders (repeatable).")
@click.option("--simulate", "simulated", type=click.IntRange(0), default=0, show_default=True,
              help="Also simulate N sessions played by the teacher against --user-model.")
@click.option("--user-model", default="simple", show_default=True, help="Simulated people: registered name or checkpoint folder.")
@click.option("--user-model-option", multiple=True, metavar="KEY=VALUE",
              help="A setting of the simulated people's user model (repeatable).")
@click.option("--teacher-generator", default="template", show_default=True,
              help="Candidate generator of the simulated sessions.")
@click.option("--teacher-selector", default="value", show_default=True,
              help="The teacher: the selector whose slates the model learns.")
@click.option("--teacher-option", multiple=True, metavar="KEY=VALUE", help="Selector options, e.g. model=runs/value.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["openai", "gemini", "parquet"]),
              help="Formats to write (repeatable; default all three).")
@click.option("--turns", type=click.IntRange(1, 50), default=5, show_default=True, help="Turns per simulated session.")
@click.option("--slate-size", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Columns (prompts) per slate (L).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated sessions.")
@click.option("--images", type=click.Choice(["none", "last", "all"]), default="none", show_default=True,
              help="History images in the user message: the chosen column's images of the last turn, or of every "
                   "earlier turn (the latest turns first, up to --max-images).")
@click.option("--image-size", type=click.IntRange(16, 4096), default=256, show_default=True,
              help="Longest side of an exported image, in pixels (PNG; never scaled up).")
@click.option("--max-images", type=click.IntRange(1, 30), default=10, show_default=True,
              help="Images per row at most (OpenAI takes 10 an example, Gemini 30).")
@click.option("--quiet", is_flag=True, help="No progress output.")
def data_command(**kw: Any) -> None:
    """Write supervised pairs: each history -> the slate the teacher chose for it."""
    _one_line(_data, kw)


def _data(kw: dict[str, Any]) -> None:
    from pasta_cli.options import parse_options
    from pasta_core.config import EpisodeConfig
    from pasta_core.errors import InvalidValueError
    from pasta_core.plugins import get_plugins
    from pasta_distill.collect import DataSpec, collect_pairs
    from pasta_distill.history_images import ImageExport

    if not kw["sessions"] and not kw["simulated"]:
        raise InvalidValueError("nothing to distill: give --sessions PATH and/or --simulate N")
    spec = DataSpec(
        sessions=tuple(kw["sessions"]), simulated=kw["simulated"], user_model=kw["user_model"],
        user_model_options=parse_options(kw["user_model_option"], "--user-model-option"),
        teacher_generator=kw["teacher_generator"], teacher_selector=kw["teacher_selector"],
        teacher_options=parse_options(kw["teacher_option"], "--teacher-option"),
        config=EpisodeConfig(turns=kw["turns"], slate_size=kw["slate_size"]), seed=kw["seed"],
        images=ImageExport(kw["images"], kw["image_size"], kw["max_images"]),
    )
    summary = collect_pairs(spec, kw["out"], formats=tuple(kw["formats"]) or None, progress=not kw["quiet"],
                            plugins=get_plugins())
    for kind, written in summary["files"].items():
        checked = ", every line checked against the provider's format" if kind != "parquet" else ""
        click.echo(f"{kind}: {written['rows']} rows{checked} -> {written['file']}")
    click.echo(f"pairs by source: {summary['sources']}; train on them: pasta distill train --data {kw['out']} "
               "--out runs/distilled")


@distill_group.command("train")
@click.option("--data", "paths", multiple=True, required=True, help="pairs.parquet, or a folder from `pasta distill data` (repeatable).")
@click.option("--out", required=True, help="Model folder (an unfinished run there is resumed).")
@click.option("--model", "base", default="embedded", show_default=True,
              help="'embedded' (a small model trained from scratch, offline) or a chat model folder to fine-tune.")
@click.option("--steps", type=int, default=2000, show_default=True, help="Optimizer steps.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Pairs per step.")
@click.option("--lr", type=float, default=None, help="Learning rate [3e-3 embedded, 1e-4 LoRA, 2e-5 full].")
@click.option("--save-every", type=int, default=500, show_default=True,
              help="Steps between checkpoints (a stopped run resumes from the last).")
@click.option("--width", type=int, default=96, show_default=True, help="Embedded model: hidden size.")
@click.option("--layers", type=int, default=2, show_default=True, help="Embedded model: transformer layers.")
@click.option("--lora/--full", default=None, help="LoRA adapters or the whole model [by size: LoRA above 50M parameters].")
@click.option("--lora-rank", type=int, default=8, show_default=True, help="Rank of the LoRA adapters.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the initialization and batches.")
@click.option("--device", default="cpu", show_default=True, help="Torch device: cpu, cuda, cuda:1, ...")
@click.option("--no-resume", is_flag=True, help="Start over even if OUT holds an unfinished run.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(**kw: Any) -> None:
    """Fine-tune a causal LM to answer each history with the teacher's slate."""
    _one_line(_train, kw)


def _lr(kw: dict[str, Any]) -> float:
    if kw["lr"] is not None:
        return float(kw["lr"])
    if kw["base"] == "embedded":
        return 3e-3
    return 2e-5 if kw["lora"] is False else 1e-4


def _train(kw: dict[str, Any]) -> None:
    from pasta_distill.export import read_pairs
    from pasta_distill.train import TrainConfig, train_chat, train_compact

    config = TrainConfig(steps=kw["steps"], batch_size=kw["batch_size"], lr=_lr(kw), save_every=kw["save_every"],
                         seed=kw["seed"], width=kw["width"], layers=kw["layers"], lora=kw["lora"],
                         lora_rank=kw["lora_rank"], device=kw["device"])
    pairs = read_pairs(kw["paths"])
    resume, progress = not kw["no_resume"], not kw["quiet"]
    if kw["base"] == "embedded":
        info = train_compact(pairs, kw["out"], config, resume=resume, progress=progress)
    else:
        info = train_chat(pairs, kw["base"], kw["out"], config, resume=resume, progress=progress)
    t = info["training"]
    click.echo(f"{info['codec']} model: {info['parameters']:,} parameters, {info['weights_bytes'] / 1e6:.1f} MB, "
               f"{t['steps']} steps in {t['seconds']:.0f} s (loss {t['final_loss']}) -> {kw['out']}")
    click.echo(f"use it: pasta run --generator distilled --generator-option model={kw['out']} --selector distilled")
