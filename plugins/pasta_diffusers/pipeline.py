"""``DiffusersT2I``: a PASTA ``T2IModel`` over a diffusers text-to-image pipeline."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pasta_core.errors import BackendError, InvalidValueError, require
from pasta_diffusers import options as opt

log = logging.getLogger("pasta.diffusers")


def _load(pipeline_class: str, model: str, plugin: str, dtype: Any, variant: str | None) -> Any:
    diffusers = require("diffusers", "sdxl")
    cls = getattr(diffusers, pipeline_class)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if variant:
        kwargs["variant"] = variant
    try:
        return cls.from_pretrained(model, **kwargs)
    except (OSError, ValueError) as exc:
        raise BackendError(
            f"could not load {pipeline_class} from {model!r}: {exc}. To fix: {opt.weights_help(model, plugin)}"
        ) from exc


class DiffusersT2I:
    """Renders prompts with a diffusers pipeline, one ``torch.Generator`` per image.

    The (prompt, seed) list is rendered in ``ceil(n / batch_size)`` pipeline calls. Each
    image's starting noise comes from its own CPU generator seeded with its seed, so its
    noise is the same on any device. On CPU the images equal, bit for bit, those of calling
    the pipeline directly with the same prompts and
    ``generator=[torch.Generator().manual_seed(s) for s in seeds]``.

    Batched kernels round differently for different batch sizes (up to one pixel level
    here), so with ``reproducible`` (default) every call is padded to ``batch_size`` rows
    by repeating its last pair: an image then does not depend on what it was batched with,
    and re-rendering it alone gives the same pixels. ``reproducible=False`` skips the
    padding (less compute for partial batches). A CUDA out-of-memory error halves the batch
    size and retries.
    """

    def __init__(
        self,
        pipeline: Any,
        steps: int,
        guidance: float,
        width: int | None = None,
        height: int | None = None,
        batch_size: int = 8,
        negative_prompt: str | None = None,
        reproducible: bool = True,
    ) -> None:
        self.pipeline = pipeline
        self.reproducible = reproducible
        self.steps = steps
        self.guidance = guidance
        self.width = width
        self.height = height
        self.batch_size = batch_size
        self.negative_prompt = negative_prompt
        self.calls = 0

    def _call(self, prompts: list[str], seeds: list[int]) -> list[Any]:
        import torch

        wanted = len(prompts)
        if self.reproducible and wanted < self.batch_size:
            pad = self.batch_size - wanted
            prompts, seeds = prompts + prompts[-1:] * pad, seeds + seeds[-1:] * pad
        generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
        kwargs: dict[str, Any] = {
            "prompt": prompts, "generator": generators, "num_inference_steps": self.steps,
            "guidance_scale": self.guidance, "width": self.width, "height": self.height,
            "output_type": "pil",
        }
        if self.negative_prompt:
            kwargs["negative_prompt"] = [self.negative_prompt] * len(prompts)
        self.calls += 1
        return list(self.pipeline(**kwargs).images)[:wanted]

    def _render_chunk(self, prompts: list[str], seeds: list[int]) -> list[Any]:
        import torch

        try:
            return self._call(prompts, seeds)
        except torch.OutOfMemoryError:
            if len(prompts) == 1:
                raise BackendError(
                    "out of GPU memory for a single image: try t2i options cpu_offload=true, "
                    "vae_tiling=true, attention_slicing=true, dtype=fp16 or a smaller width/height"
                ) from None
            torch.cuda.empty_cache()
            self.batch_size = max(1, len(prompts) // 2)
            log.warning("out of GPU memory; batch size lowered to %d", self.batch_size)
            half = len(prompts) // 2
            return self._render_chunk(prompts[:half], seeds[:half]) + self._render_chunk(
                prompts[half:], seeds[half:]
            )

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        """One image per (prompt, seed) pair, in order (see the class docstring)."""
        if len(prompts) != len(seeds):
            raise InvalidValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        prompts, seeds = [str(p) for p in prompts], [int(s) for s in seeds]
        images: list[Any] = []
        start = 0
        while start < len(prompts):
            size = self.batch_size
            images += self._render_chunk(prompts[start : start + size], seeds[start : start + size])
            start += size
        return images


def _scheduler(name: str | None) -> tuple[str, dict[str, Any]] | None:
    if not name or name.strip().lower() == "default":
        return None
    return opt.scheduler_spec(name)


def _set_scheduler(pipeline: Any, spec: tuple[str, dict[str, Any]] | None) -> None:
    if spec is None:
        return
    class_name, overrides = spec
    diffusers = require("diffusers", "sdxl")
    cls = getattr(diffusers, class_name, None)
    if cls is None:
        raise InvalidValueError(f"diffusers has no scheduler {class_name!r}")
    pipeline.scheduler = cls.from_config(pipeline.scheduler.config, **overrides)


def _place(pipeline: Any, device: str, cpu_offload: bool) -> None:
    if cpu_offload:
        pipeline.enable_model_cpu_offload(device=device)
    else:
        pipeline.to(device)


def build(
    plugin: str,
    pipeline_class: str,
    model: str,
    device: str | None = "auto",
    dtype: str | None = "auto",
    scheduler: str | None = None,
    steps: Any = 30,
    guidance: Any = 5.0,
    width: Any = None,
    height: Any = None,
    batch_size: Any = 8,
    attention_slicing: Any = False,
    vae_tiling: Any = False,
    cpu_offload: Any = False,
    variant: str | None = None,
    negative_prompt: str | None = None,
    progress: Any = False,
    reproducible: Any = True,
) -> DiffusersT2I:
    """Load ``pipeline_class`` from ``model`` with the user's options (CLI strings accepted)."""
    torch = require("torch", "sdxl")
    require("diffusers", "sdxl")
    steps_n = opt.as_int("steps", steps, 1, 1000)
    batch = opt.as_int("batch_size", batch_size, 1, 4096)
    try:
        guidance_f = float(guidance)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option guidance must be a number, got {guidance!r}") from None
    size_w, size_h = opt.as_size("width", width), opt.as_size("height", height)
    device_name = opt.resolve_device(torch, device)
    torch_dtype = opt.resolve_dtype(torch, dtype, device_name)
    offload = opt.as_bool("cpu_offload", cpu_offload)
    if offload and device_name == "cpu":
        raise InvalidValueError("cpu_offload=true needs a GPU device (it moves models to it when used)")
    if offload:
        require("accelerate", "offload")
    slicing, tiling = opt.as_bool("attention_slicing", attention_slicing), opt.as_bool("vae_tiling", vae_tiling)
    show_progress = opt.as_bool("progress", progress)
    padded = opt.as_bool("reproducible", reproducible)
    scheduler_spec = _scheduler(scheduler)
    source = opt.resolve_model(model, plugin)
    pipeline = _load(pipeline_class, source, plugin, torch_dtype, variant)
    _set_scheduler(pipeline, scheduler_spec)
    if slicing:
        pipeline.enable_attention_slicing()
    if tiling:
        pipeline.vae.enable_tiling()
    _place(pipeline, device_name, offload)
    pipeline.set_progress_bar_config(disable=not show_progress)
    return DiffusersT2I(pipeline, steps_n, guidance_f, size_w, size_h, batch, negative_prompt or None, padded)
