"""``pasta user-model train|eval|show`` and ``pasta score`` (added through the
``pasta_register_commands`` hook; heavy imports stay inside the commands)."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import click

from pasta_checkpoints.hub import push_command
from pasta_tracking.runconfig import config_option
from pasta_tracking.sinks import MetricsChoice

log = logging.getLogger(__name__)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group("user-model")
def user_model_group() -> None:
    """Train, evaluate, inspect and share CLIP-EM user models (K latent user types)."""


user_model_group.add_command(push_command("user-model"))


_FROZEN_ONLY = ("types", "encoder", "encoder_option", "cache", "satisfaction")


class _PositiveFloat(click.FloatRange):
    """A finite number above zero (click's FloatRange lets nan through)."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: Rates and clips.
_POSITIVE = _PositiveFloat()


@user_model_group.command("train")
@click.option("--data", "specs", multiple=True, required=True, metavar="KIND:PATH[,IMAGES]",
              help="pickapic:, hpsv2:, sac:, trajectories:, pasta: (repeatable).")
@click.option("--out", required=True, help="Checkpoint folder (resumed if it holds a trainer state).")
@click.option("--phase", type=click.Choice(["frozen", "finetune"]), default="frozen", show_default=True,
              help="frozen: heads on cached embeddings; finetune: encoder too, on raw prompts and images.")
@click.option("--init", default=None, metavar="DIR",
              help="finetune: the checkpoint to start from (usually the frozen phase's --out).")
@click.option("--types", type=click.IntRange(1, 64), default=8, show_default=True, help="K user types (frozen).")
@click.option("--encoder", default="embedded", show_default=True, help="Encoder plugin (embedded, openclip; frozen).")
@click.option("--satisfaction", type=click.Choice(["ordinal", "gaussian"]), default="ordinal", show_default=True,
              help="Likelihood of the raters' 1-5 column scores: ordered probit or Gaussian (frozen).")
@click.option("--encoder-option", multiple=True, metavar="KEY=VALUE", help="e.g. model=local-dir:FOLDER (frozen)")
@click.option("--cache", default=None, help="Embedding cache folder [OUT/embeddings] (frozen).")
@click.option("--steps", type=click.IntRange(1), default=1000, show_default=True,
              help="Training steps (a resumed run trains until this step).")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True, help="Samples (raters/sessions) per batch.")
@click.option("--lr", type=_POSITIVE, default=None, help="Learning rate of the score model's heads [3e-4 frozen, 1e-5 finetune].")
@click.option("--encoder-lr", type=_POSITIVE, default=1e-6, show_default=True, help="finetune: the encoder's learning rate.")
@click.option("--grad-clip", type=_POSITIVE, default=1.0, show_default=True, help="Gradient-norm clip (all trained weights).")
@click.option("--split-every", type=click.IntRange(min=0), default=50, show_default=True,
              help="frozen: every N steps of the first half, re-seed a starved user type from the most "
                   "crowded one (0: never).")
@click.option("--save-every", type=click.IntRange(1), default=200, show_default=True,
              help="Steps between checkpoints (a stopped run resumes from the last).")
@click.option("--metrics", type=MetricsChoice(), default="jsonl", show_default=True,
              help="Where step metrics go, comma-separated: jsonl (OUT/metrics.jsonl, always written but "
                   "with none), tensorboard, wandb, mlflow (each its own extra), none.")
@click.option("--device", default="auto", show_default=True, help="auto: cuda when torch sees a GPU, else cpu.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of the initialization and batches.")
@click.option("--strict", is_flag=True, help="Stop at the first corrupt row or missing image.")
@click.option("--fresh", is_flag=True, help="Ignore a trainer state in OUT and start over.")
@config_option
@click.pass_context
def train_command(ctx: click.Context, **kw: Any) -> None:
    """Train by mini-batch EM: first on cached embeddings (frozen encoder), then, with
    --phase finetune --init FROZEN_OUT, the encoder too at a small learning rate."""
    from click.core import ParameterSource

    from pasta_core.errors import PastaError

    if kw["phase"] == "finetune":
        given = [n for n in _FROZEN_ONLY if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE]
        if given:
            names = ", ".join("--" + n.replace("_", "-") for n in given)
            raise click.UsageError(f"{names}: the fine-tuning phase takes these from --init's checkpoint")
    from pasta_core.plugins import get_plugins
    from pasta_tracking.device import resolve_device
    from pasta_tracking.logs import command_logs
    from pasta_tracking.runconfig import effective_settings
    from pasta_tracking.sinks import check_installed

    with command_logs():
        try:
            check_installed(kw["metrics"])  # before the data is read
            kw["settings"] = effective_settings(ctx)
            kw["device"] = resolve_device(kw["device"])
            (_finetune if kw["phase"] == "finetune" else _train)(kw, get_plugins())
        except PastaError as exc:
            raise _fail(exc) from exc


def _train_config(kw: dict[str, Any], lr: float) -> Any:
    from pasta_clip_em.em import TrainConfig

    return TrainConfig(steps=kw["steps"], batch_size=kw["batch_size"], lr=lr if kw["lr"] is None else kw["lr"],
                       encoder_lr=kw["encoder_lr"], grad_clip=kw["grad_clip"], save_every=kw["save_every"],
                       metrics="none" if kw["metrics"] == ("none",) else "jsonl", device=kw["device"],
                       seed=kw["seed"], split_every=kw["split_every"] if kw["phase"] == "frozen" else 0)


def _run(trainer: Any, kw: dict[str, Any], out: Path) -> None:
    """Train with the --metrics sinks, the pace estimate and the loss curve; the effective
    settings go to OUT/run_config.toml first."""
    from pasta_tracking.run import is_main_process, track_run
    from pasta_tracking.runconfig import save_run_config

    if is_main_process():
        save_run_config(out, kw["settings"], "user-model train")
    name = "EM" if kw["phase"] == "frozen" else "EM finetune"
    with track_run(out, name, kw["metrics"], trainer.config.steps, trainer.config.log_every,
                   config=kw["settings"]) as tracker:
        trainer.train(progress=True, on_step=tracker.on_step)


def _train(kw: dict[str, Any], plugins: Any) -> None:
    import numpy as np

    from pasta_cli.options import parse_options
    from pasta_clip_em.cache import EmbeddingCache
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.data import build_labels
    from pasta_clip_em.em import STATE_FILE, EMTrainer
    from pasta_clip_em.model import build_model

    out = Path(kw["out"])
    resuming = (out / STATE_FILE).is_file() and not kw["fresh"]
    if resuming:
        config = ModelConfig.load(out)
    else:
        options = parse_options(kw["encoder_option"], "--encoder-option")
        encoder = plugins.create("encoder", kw["encoder"], **options)
        config = ModelConfig(dim=encoder.dim, types=kw["types"], encoder=kw["encoder"], encoder_options=options,
                             satisfaction=kw["satisfaction"])
    encoder = plugins.create("encoder", config.encoder, **config.encoder_options)
    cache = EmbeddingCache(kw["cache"] or out / "embeddings", encoder)
    labels, reports = build_labels(list(kw["specs"]), cache, strict=kw["strict"], progress=True)
    for report in reports:
        log.info(report.summary())
    log.info("%d samples, labels: %s; device: %s", labels.num_samples, labels.num_labels(), kw["device"])
    trainer = EMTrainer(build_model(config, kw["seed"]), labels, _train_config(kw, 3e-4), out=out,
                        aggregator=config.build_aggregator(plugins))
    if resuming and trainer.resume():
        log.info("Resuming at step %d", trainer.step_count)
    _run(trainer, kw, out)
    trainer.save()
    log.info("Saved %s (prior %s)", out, np.round(trainer.prior_array, 3).tolist())


def _finetune(kw: dict[str, Any], plugins: Any) -> None:
    import numpy as np

    from pasta_clip_em.checkpoint import load_checkpoint, load_encoder
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.data import build_raw_labels
    from pasta_clip_em.em import STATE_FILE
    from pasta_clip_em.finetune import FinetuneTrainer
    from pasta_clip_em.model import build_model
    from pasta_core.errors import InvalidValueError

    out = Path(kw["out"])
    resuming = (out / STATE_FILE).is_file() and not kw["fresh"]
    if resuming:  # weights, encoder and optimizer come from the trainer state
        config = ModelConfig.load(out)
        config.encoder_state = ""
        model, prior = build_model(config, kw["seed"]), None
        encoder = load_encoder(None, config, kw["device"], plugins=plugins)
    else:
        if not kw["init"]:
            raise InvalidValueError("--phase finetune needs --init DIR: the checkpoint of the frozen phase")
        if Path(kw["init"]).resolve() == out.resolve():
            raise InvalidValueError("--out must differ from --init: the fine-tuned model is a new checkpoint")
        model, prior, config = load_checkpoint(kw["init"], device=kw["device"])
        encoder = load_encoder(kw["init"], config, kw["device"], plugins=plugins)
    labels, reports = build_raw_labels(list(kw["specs"]), strict=kw["strict"])
    for report in reports:
        log.info(report.summary())
    log.info("%d samples, labels: %s; device: %s", labels.num_samples, labels.num_labels(), kw["device"])
    trainer = FinetuneTrainer(model, labels, _train_config(kw, 1e-5), encoder, out=out, prior=prior,
                              aggregator=config.build_aggregator(plugins))
    if resuming and trainer.resume():
        log.info("Resuming at step %d", trainer.step_count)
    _run(trainer, kw, out)
    trainer.save()
    log.info("Saved %s with the fine-tuned encoder (prior %s)", out, np.round(trainer.prior_array, 3).tolist())


@user_model_group.command("eval")
@click.argument("checkpoint")
@click.option("--data", "specs", multiple=True, required=True, metavar="KIND:PATH[,IMAGES]",
              help="pickapic: (half/half accuracy), hpsv2-test: (Spearman), trajectories:/pasta: (choices).")
@click.option("--cache", default=None,
              help="Embedding cache folder [CHECKPOINT/embeddings; for a Hub repo ~/.cache/pasta/embeddings/...].")
@click.option("--device", default="cpu", show_default=True, help="Torch device: cpu, cuda, cuda:1, ...")
@click.option("--strict", is_flag=True, help="Stop at the first corrupt row or missing image.")
def eval_command(checkpoint: str, specs: tuple[str, ...], cache: str | None, device: str, strict: bool) -> None:
    """Evaluate a checkpoint (a folder or a Hub repo, hf://owner/name); prints one JSON object per dataset."""
    from pasta_checkpoints.resolve import resolve_checkpoint
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins

    try:
        plugins = get_plugins()
        folder = resolve_checkpoint(checkpoint, "user model")
        cache = cache or str(default_cache(checkpoint, folder))
        for spec in specs:
            click.echo(json.dumps({"data": spec, **_evaluate(folder, spec, cache, device, strict, plugins)}))
    except PastaError as exc:
        raise _fail(exc) from exc


def default_cache(argument: str, folder: str) -> Path:
    """The embedding cache of ``user-model eval`` without ``--cache``: CHECKPOINT/embeddings
    for a local checkpoint; for a Hub repo, never inside the Hugging Face cache (its snapshot
    folders belong to huggingface_hub) but in PASTA's cache folder ($XDG_CACHE_HOME or
    ~/.cache, then pasta/embeddings/OWNER--NAME/COMMIT: the snapshot's own folder name)."""
    from pasta_checkpoints.resolve import hub_ref

    ref = hub_ref(argument)
    if ref is None:
        return Path(folder) / "embeddings"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pasta" / "embeddings" / ref.repo_id.replace("/", "--") / Path(folder).name


def _evaluate(checkpoint: str, spec: str, cache_dir: str, device: str, strict: bool,
              plugins: Any) -> dict[str, Any]:
    """One dataset's figures; ``cache_dir`` is the embedding cache folder, chosen by the
    caller (``--cache`` or :func:`default_cache`: ``checkpoint`` alone cannot tell a local
    checkpoint from a Hub snapshot, whose folder must stay untouched)."""
    from pasta_clip_em import evaluate as ev
    from pasta_clip_em.cache import EmbeddingCache
    from pasta_clip_em.data import build_labels, read_spec
    from pasta_clip_em.datasets import ReadReport
    from pasta_clip_em.usermodel import create_user_model

    user_model = create_user_model(path=checkpoint, device=device, plugins=plugins)
    cache = EmbeddingCache(cache_dir, user_model.encoder)
    if spec.startswith("hpsv2-test:"):
        report = ReadReport(spec, strict)
        groups = [(cache.texts([r.prompt])[0], cache.images(list(r.images)), r.ranks) for r in read_spec(spec, report)[1]]
        return {**ev.evaluate_rankings(user_model, groups), "report": report.summary()}
    labels, reports = build_labels([spec], cache, strict=strict)
    model, prior, aggregator = user_model.model, user_model.prior, user_model.aggregator
    result: dict[str, Any] = {"report": reports[0].summary()}
    if labels.pairs is not None:
        result.update(ev.evaluate_pairs(model, prior, labels, aggregator=aggregator))
    if labels.turns is not None:
        result.update(ev.evaluate_turns(model, prior, labels, aggregator=aggregator))
    return result


@user_model_group.command("show")
@click.argument("checkpoint")
@click.option("--picture", default=None, help="Write the top images per type here (PNG).")
@click.option("--prompts", type=int, default=12, show_default=True, help="Packaged prompts to render for it.")
@click.option("--t2i", default="procedural", show_default=True, help="Text-to-image plugin that renders them.")
@click.option("--per-type", type=int, default=6, show_default=True, help="Images in each type's row.")
def show_command(checkpoint: str, picture: str | None, prompts: int, t2i: str, per_type: int) -> None:
    """Print the settings and learned prior of a checkpoint (a folder or a Hub repo, hf://owner/name);
    optionally draw each type's favourite images."""
    from pasta_checkpoints.resolve import resolve_checkpoint
    from pasta_clip_em.usermodel import create_user_model
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins

    try:
        plugins = get_plugins()
        user_model = create_user_model(path=resolve_checkpoint(checkpoint, "user model"), plugins=plugins)
        click.echo(json.dumps(user_model.describe(), indent=2))
        if picture:
            _picture(user_model, picture, prompts, plugins.create("t2i", t2i), per_type)
            click.echo(f"Wrote {picture}")
    except PastaError as exc:
        raise _fail(exc) from exc


def _picture(user_model: Any, path: str, count: int, renderer: Any, per_type: int) -> None:
    from pasta_cli.data import initial_prompts
    from pasta_clip_em.figure import top_images_picture

    items = []
    for n, prompt in enumerate(initial_prompts()[:count]):
        images = renderer.render([prompt] * 4, [n * 10 + m for m in range(4)])
        items += [(prompt, im) for im in images]
    top_images_picture(user_model, items, per_type=per_type).save(path)


@click.command("score")
@click.option("--user-model", "checkpoint", required=True,
              help="A clip-em checkpoint folder or Hub repo (hf://owner/name).")
@click.option("--prompt", required=True, help="The prompt (the person's intent) the images answer.")
@click.option("--type", "user_type", type=click.IntRange(1), default=None,
              help="Score under this user type only (numbered from 1).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def score_command(checkpoint: str, prompt: str, user_type: int | None, as_json: bool, images: tuple[str, ...]) -> None:
    """Personalized scores of IMAGE files: every user type, one type, and the prior mean."""
    from PIL import Image

    from pasta_checkpoints.resolve import resolve_checkpoint
    from pasta_clip_em.scorer import PersonalScorer
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins

    try:
        scorer = PersonalScorer(resolve_checkpoint(checkpoint, "user model"), plugins=get_plugins())
        pictures = [Image.open(p).convert("RGB") for p in images]
        scores = scorer(prompt, pictures)
    except PastaError as exc:
        raise _fail(exc) from exc
    prior = scorer.user_model.prior
    if user_type is not None and user_type > len(prior):
        raise click.BadParameter(f"{user_type}: the user model has {len(prior)} types, numbered 1 to {len(prior)}",
                                 param_hint="--type")
    rows = []
    for n, path in enumerate(images):
        row: dict[str, Any] = {"image": path, "expected": float(prior @ scores[:, n])}
        if user_type is not None:
            row["score"] = float(scores[user_type - 1, n])
        else:
            row["per_type"] = [round(float(s), 4) for s in scores[:, n]]
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        detail = f"{row['score']:.4f}" if user_type is not None else " ".join(f"{s:.3f}" for s in row["per_type"])
        click.echo(f"{row['image']}\texpected {row['expected']:.4f}\t{detail}")
