"""``pasta bench t2i``: seconds per turn of a diffusers T2I model, with no download.

Each model is built at full size from its published configs with random weights
(:mod:`pasta_diffusers.fullsize`): the compute of the real model. A turn is ``--images``
(prompt, seed) pairs rendered at the model's native size through the same
:class:`~pasta_diffusers.pipeline.DiffusersT2I` the ``sdxl``/``sd`` plugins use. Every
combination of steps, dtype and ``torch.compile`` is timed over ``--repeats`` turns after
one warm-up turn (which also compiles); a run of 8 steps or fewer uses the ``lightning``
preset's sampling (guidance 0, so no classifier-free guidance, Euler with trailing
timesteps), as a few-step model (Lightning, LCM, Turbo) would. On a CPU, or with
``--toy``, the tiny pipelines of the same families stand in (64 px): a smoke test of
the code path, not a speed figure.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import attrs
import click

FEW_STEPS = 8


@attrs.frozen
class BenchOptions:
    """What to time: models, steps, dtypes, compile on/off, turn size and repeats."""

    models: tuple[str, ...] = ("sdxl",)
    steps: tuple[int, ...] = (30, 4)
    dtypes: tuple[str, ...] = ("fp16", "bf16")
    compile: tuple[bool, ...] = (False, True)
    images: int = 16
    batch_size: int = 16
    repeats: int = 3
    size: int | None = None
    toy: bool = False
    device: str = "auto"


def _seconds(value: float) -> float:
    """A time in seconds to 4 significant digits (toy turns take tens of milliseconds)."""
    return float(f"{value:.4g}")

def _sampler(t2i: Any, steps: int, guidance: float, scheduler: Any) -> None:
    """Set ``t2i`` to ``steps`` steps: the model's own sampling (``guidance``,
    ``scheduler``), or the lightning preset's."""
    from pasta_diffusers.pipeline import set_scheduler
    from pasta_diffusers.presets import PRESETS

    t2i.steps = steps
    t2i.pipeline.scheduler = scheduler
    if steps <= FEW_STEPS:
        few = PRESETS["lightning"]
        set_scheduler(t2i.pipeline, few.scheduler, dict(few.scheduler_config))
        t2i.guidance = few.guidance
    else:
        t2i.guidance = guidance


def _turns(t2i: Any, torch: Any, device: str, images: int, repeats: int) -> tuple[float, list[float]]:
    """Seconds of the warm-up turn and of each timed turn (new seeds every turn)."""
    prompts = [f"a lighthouse on a cliff at dawn, study {i}" for i in range(images)]

    def turn(round_: int) -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        t2i.render(prompts, [round_ * images + i for i in range(images)])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    warm = turn(0)
    return warm, [turn(r + 1) for r in range(repeats)]


def _one(name: str, dtype_name: str, compiled: bool, options: BenchOptions, device: str) -> list[dict[str, Any]]:
    from pasta_core.errors import require
    from pasta_diffusers import options as opt
    from pasta_diffusers.fullsize import NATIVE_SIZE, build_random_pipeline, parameter_count
    from pasta_diffusers.pipeline import DiffusersT2I

    torch = require("torch", "sdxl")
    dtype = opt.resolve_dtype(torch, dtype_name, device)
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    pipeline = build_random_pipeline(name, device, dtype, toy=options.toy)
    built = time.perf_counter() - started
    pipeline.set_progress_bar_config(disable=True)
    if compiled:
        pipeline.unet = torch.compile(pipeline.unet)
    size = options.size or (64 if options.toy else NATIVE_SIZE[name])
    default_guidance = 5.0 if name == "sdxl" else 7.5
    t2i = DiffusersT2I(pipeline, options.steps[0], default_guidance, size, size, options.batch_size)
    rows, own_scheduler = [], pipeline.scheduler
    for steps in options.steps:
        _sampler(t2i, steps, default_guidance, own_scheduler)
        warm, times = _turns(t2i, torch, device, options.images, options.repeats)
        median = statistics.median(times)
        rows.append({
            "model": name, "toy": options.toy, "unet_parameters": parameter_count(pipeline.unet),
            "dtype": dtype_name, "compile": compiled, "steps": steps, "guidance": t2i.guidance,
            "scheduler": type(pipeline.scheduler).__name__,
            "timestep_spacing": pipeline.scheduler.config.get("timestep_spacing"), "size": size, "images_per_turn": options.images,
            "batch_size": options.batch_size, "build_s": round(built, 2), "warmup_turn_s": _seconds(warm),
            "turn_s": [_seconds(t) for t in times], "turn_s_median": _seconds(median),
            "turn_s_min": _seconds(min(times)), "turn_s_max": _seconds(max(times)),
            "images_per_s": float(f"{options.images / median:.4g}"),
            "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
            if device.startswith("cuda") else None,
        })
    del t2i, pipeline
    return rows


def run_t2i_bench(options: BenchOptions) -> dict[str, Any]:
    """Time every combination of ``options``; figures and the machine, as a dict."""
    from pasta_core.errors import require
    from pasta_diffusers import options as opt

    torch = require("torch", "sdxl")
    device = opt.resolve_device(torch, options.device)
    if device == "cpu":  # toy size; fp16 is refused on a CPU; compile only when asked for with --toy
        dtypes = tuple(d for d in options.dtypes if d not in ("fp16", "float16")) or ("fp32",)
        options = attrs.evolve(options, toy=True, dtypes=dtypes, compile=options.compile if options.toy else (False,))
    rows = []
    for name in options.models:
        for dtype_name in options.dtypes:
            for compiled in options.compile:
                rows += _one(name, dtype_name, compiled, options, device)
    machine = {
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
        "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
    }
    return {"machine": machine, "options": attrs.asdict(options), "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    machine = result["machine"]
    lines = [
        f"Machine: {machine['device']}, torch {machine['torch']}, Python {machine['python']}."
        + (" **Toy size** (tiny pipelines): a smoke test, not a speed figure." if result["options"]["toy"] else ""),
        "",
        "| model | dtype | compile | steps | guidance | images/turn | s/turn median [min, max] | images/s | "
        "warm-up s | peak GPU GiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        memory = "-" if row["peak_gpu_memory_gib"] is None else f"{row['peak_gpu_memory_gib']:.1f}"
        lines.append(
            f"| {row['model']} ({row['size']} px) | {row['dtype']} | {'on' if row['compile'] else 'off'} | "
            f"{row['steps']} | {row['guidance']:g} | {row['images_per_turn']} | "
            f"{row['turn_s_median']:.2f} [{row['turn_s_min']:.2f}, {row['turn_s_max']:.2f}] | "
            f"{row['images_per_s']:.2f} | {row['warmup_turn_s']:.1f} | {memory} |"
        )
    return "\n".join(lines) + "\n"


def _list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _steps(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(s) for s in _list(text))
    except ValueError:
        raise click.BadParameter(f"expected whole numbers separated by commas, got {text!r}", param_hint="--steps") from None
    if not steps or min(steps) < 1:
        raise click.BadParameter(f"expected steps of 1 or more, got {text!r}", param_hint="--steps")
    return steps


@click.command("t2i")
@click.option("--out", default="bench-t2i", show_default=True, help="Folder for t2i.json and t2i.md.")
@click.option("--models", default="sdxl", show_default=True, help="Comma-separated: sdxl, sd15.")
@click.option("--steps", default="30,4", show_default=True,
              help=f"Comma-separated steps per image; {FEW_STEPS} or fewer use few-step sampling (guidance 0).")
@click.option("--dtypes", default="fp16,bf16", show_default=True, help="Comma-separated: fp16, bf16, fp32.")
@click.option("--compile", "compile_", default="off,on", show_default=True, help="torch.compile of the UNet: off, on or both.")
@click.option("--images", type=click.IntRange(1, 256), default=16, show_default=True, help="Images per turn.")
@click.option("--batch-size", type=click.IntRange(1, 256), default=16, show_default=True, help="Images per pipeline call.")
@click.option("--repeats", type=click.IntRange(1, 50), default=3, show_default=True, help="Timed turns per setting.")
@click.option("--size", type=click.IntRange(64, 4096), default=None, help="Image side (default: the model's native size).")
@click.option("--toy", is_flag=True, help="Tiny pipelines at 64 px (automatic on a CPU): a smoke test of the code path.")
@click.option("--device", default="auto", show_default=True, help="auto, cuda, cuda:1, cpu.")
def t2i_command(**kw: Any) -> None:
    """Seconds per turn of full-size diffusers pipelines with random weights (no download):
    steps, fp16/bf16, with and without torch.compile; images/s and peak GPU memory."""
    from pasta_core.errors import PastaError

    flags = {"off": False, "on": True}
    if not _list(kw["compile_"]) or any(c not in flags for c in _list(kw["compile_"])):
        raise click.BadParameter(f"takes off, on or off,on; got {kw['compile_']!r}", param_hint="--compile")
    options = BenchOptions(
        models=_list(kw["models"]), steps=_steps(kw["steps"]), dtypes=_list(kw["dtypes"]),
        compile=tuple(flags[c] for c in _list(kw["compile_"])), images=kw["images"],
        batch_size=kw["batch_size"], repeats=kw["repeats"], size=kw["size"], toy=kw["toy"], device=kw["device"],
    )
    try:
        result = run_t2i_bench(options)
    except PastaError as exc:
        raise click.ClickException(str(exc)) from exc
    folder = Path(kw["out"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t2i.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    table = markdown(result)
    (folder / "t2i.md").write_text(table, encoding="utf-8")
    click.echo(table + f"figures: {folder / 't2i.json'}")
