"""``DiffusersT2I``: a PASTA ``T2IModel`` over a diffusers text-to-image pipeline."""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pasta_core.errors import BackendError, InvalidValueError, require
from pasta_diffusers import options as opt
from pasta_diffusers import presets
from pasta_diffusers.lora import apply_loras, parse_loras

log = logging.getLogger("pasta.diffusers")


def pipeline_class(name: str | None) -> Any:
    """The diffusers class that loads a pipeline folder: ``auto`` (the default) is
    ``AutoPipelineForText2Image``, which picks the text-to-image pipeline from the folder's
    ``model_index.json`` (SDXL, SD, SD3, FLUX, Sana, PixArt ...); any other name must be a
    diffusers pipeline class, e.g. ``StableDiffusion3Pipeline``."""
    diffusers = require("diffusers", "sdxl")
    key = (name or "auto").strip()
    if key.lower() == "auto":
        return diffusers.AutoPipelineForText2Image
    cls = getattr(diffusers, key, None)
    if not isinstance(cls, type) or not issubclass(cls, diffusers.DiffusionPipeline):
        raise InvalidValueError(f"option pipeline must be auto or a diffusers pipeline class, got {name!r}")
    return cls


def absent_parts(model: str) -> dict[str, None]:
    """Parts a pipeline folder lists as absent (``[null, null]`` in ``model_index.json``,
    e.g. SD3 saved without its T5 encoder), passed as None so that the pipeline loads."""
    index = Path(model) / "model_index.json"
    if not index.is_file():
        return {}
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"{index} is not readable JSON: {exc}") from exc
    return {name: None for name, value in entries.items()
            if not name.startswith("_") and value == [None, None]}


def _load(cls: Any, model: str, plugin: str, dtype: Any, variant: str | None) -> Any:
    kwargs: dict[str, Any] = {"dtype": dtype, **absent_parts(model)}
    if variant:
        kwargs["variant"] = variant
    try:
        return cls.from_pretrained(model, **kwargs)
    except (OSError, ValueError) as exc:
        raise BackendError(
            f"could not load {cls.__name__} from {model!r}: {exc}. To fix: {opt.weights_help(model, plugin)}"
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
        guidance: float | None,
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
            "width": self.width, "height": self.height, "output_type": "pil",
        }
        if self.guidance is not None:  # else the pipeline's own default
            kwargs["guidance_scale"] = self.guidance
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


def set_scheduler(pipeline: Any, name: str | None, settings: dict[str, Any]) -> None:
    """Swap in scheduler ``name`` (a short or class name; None keeps the pipeline's) with
    ``settings`` over its config; a setting the scheduler does not have is refused."""
    if (not name or name.strip().lower() == "default") and not settings:
        return
    if name and name.strip().lower() != "default":
        class_name, overrides = opt.scheduler_spec(name)
    else:
        class_name, overrides = type(pipeline.scheduler).__name__, {}
    diffusers = require("diffusers", "sdxl")
    cls = getattr(diffusers, class_name, None)
    if cls is None:
        raise InvalidValueError(f"diffusers has no scheduler {class_name!r}")
    scheduler = cls.from_config(pipeline.scheduler.config, **{**overrides, **settings})
    unknown = sorted(key for key in settings if key not in scheduler.config)
    if unknown:
        raise InvalidValueError(f"{class_name} has no setting {', '.join(unknown)}; "
                                f"its settings: {', '.join(sorted(k for k in scheduler.config if not k.startswith('_')))}")
    pipeline.scheduler = scheduler


def _place(pipeline: Any, device: str, cpu_offload: bool) -> None:
    if cpu_offload:
        pipeline.enable_model_cpu_offload(device=device)
    else:
        pipeline.to(device)


@attrs.frozen
class Defaults:
    """A plugin's defaults: its pipeline class, model, steps and guidance (None: the
    pipeline's own)."""

    pipeline: str = "auto"
    model: str | None = None
    steps: int = 30
    guidance: float | None = None


def _guidance(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option guidance must be a number, got {value!r}") from None


def build(
    plugin: str,
    defaults: Defaults,
    model: str | None = None,
    pipeline: str | None = None,
    preset: str | None = None,
    lora: Any = None,
    lora_fuse: Any = True,
    device: str | None = "auto",
    dtype: str | None = "auto",
    scheduler: str | None = None,
    steps: Any = None,
    guidance: Any = None,
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
    **settings: Any,
) -> DiffusersT2I:
    """Load a pipeline with the user's options (CLI strings accepted; see the package
    docstring); ``settings`` holds the ``scheduler.KEY=VALUE`` options."""
    torch = require("torch", "sdxl")
    require("diffusers", "sdxl")
    scheduler_settings, unknown = presets.scheduler_overrides(settings)
    if unknown:
        known = [name for name in inspect.signature(build).parameters if name not in ("plugin", "defaults", "settings")]
        raise InvalidValueError(f"t2i {plugin!r} has no option {', '.join(map(repr, sorted(unknown)))}; "
                                f"its options: {', '.join(known)}, scheduler.KEY")
    few = presets.preset(preset)
    if few is not None:
        steps = few.steps if steps in (None, "") else steps
        guidance = few.guidance if guidance in (None, "") else guidance
        scheduler = scheduler or few.scheduler
        scheduler_settings = {**few.scheduler_config, **scheduler_settings}
    steps_n = opt.as_int("steps", defaults.steps if steps in (None, "") else steps, 1, 1000)
    guidance_f = _guidance(defaults.guidance if guidance in (None, "") else guidance)
    batch = opt.as_int("batch_size", batch_size, 1, 4096)
    size_w, size_h = opt.as_size("width", width), opt.as_size("height", height)
    loras, fuse = parse_loras(lora), opt.as_bool("lora_fuse", lora_fuse)
    device_name = opt.resolve_device(torch, device)
    torch_dtype = opt.resolve_dtype(torch, dtype, device_name)
    offload = opt.as_bool("cpu_offload", cpu_offload)
    if offload and device_name == "cpu":
        raise InvalidValueError("cpu_offload=true needs a GPU device (it moves models to it when used)")
    if offload:
        require("accelerate", "sdxl")
    slicing, tiling = opt.as_bool("attention_slicing", attention_slicing), opt.as_bool("vae_tiling", vae_tiling)
    show_progress = opt.as_bool("progress", progress)
    padded = opt.as_bool("reproducible", reproducible)
    cls = pipeline_class(pipeline or defaults.pipeline)
    if not (model or defaults.model):
        raise InvalidValueError(f"t2i {plugin!r} needs option model (a pipeline folder or a Hugging Face id)")
    source = opt.resolve_model(str(model or defaults.model), plugin)
    loaded = _load(cls, source, plugin, torch_dtype, variant)
    set_scheduler(loaded, scheduler, scheduler_settings)
    fused = apply_loras(loaded, loras, fuse)
    if slicing:
        loaded.enable_attention_slicing()
    if tiling:
        loaded.vae.enable_tiling()
    _place(loaded, device_name, offload)
    loaded.set_progress_bar_config(disable=not show_progress)
    log.info("%s: %s from %s, %d steps, guidance %s, scheduler %s, %d LoRA (%s)", plugin, type(loaded).__name__,
             source, steps_n, guidance_f, type(loaded.scheduler).__name__, len(loras), "fused" if fused else "unfused")
    return DiffusersT2I(loaded, steps_n, guidance_f, size_w, size_h, batch, negative_prompt or None, padded)
