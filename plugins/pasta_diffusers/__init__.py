"""Text-to-image plugins over diffusers: ``diffusers`` (any text-to-image pipeline, through
``AutoPipelineForText2Image`` or a named pipeline class), and ``sdxl``
(StableDiffusionXLPipeline) and ``sd`` (StableDiffusionPipeline) with their default models.

Options (``--t2i-option key=value``): ``model`` (a pipeline folder or a Hugging Face id;
with ``HF_HUB_OFFLINE=1`` an id must already be in the cache), ``pipeline`` (``auto`` or a
diffusers pipeline class name), ``preset`` (``turbo``, ``lightning``, ``lcm``: steps,
guidance and scheduler for few-step models; explicit options win), ``lora``
(``PATH[:SCALE]``, several separated by commas; ``.safetensors`` only), ``lora_fuse``
(default true: fuse the adapters into the weights), ``device`` (auto, cpu, cuda, cuda:1,
mps), ``dtype`` (auto = fp16 on GPU, fp32 on CPU; fp16, bf16, fp32), ``scheduler`` (euler,
euler-a, ddim, dpm++, dpm++-karras, unipc, lcm, tcd, flow-euler, ... or a diffusers class
name), ``scheduler.KEY`` (a scheduler setting, e.g. ``scheduler.timestep_spacing=trailing``),
``steps``, ``guidance`` (default: the pipeline's own), ``width``, ``height``, ``batch_size``
(images per pipeline call), ``attention_slicing``, ``vae_tiling``, ``cpu_offload``,
``variant`` (e.g. fp16 weights on the hub), ``negative_prompt``, ``progress``,
``reproducible`` (default true: pad partial batches so an image never depends on its batch
companions).

"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl

SDXL_MODEL = "stabilityai/stable-diffusion-xl-base-1.0"
SD_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def create_diffusers(model: str | None = None, **options: Any) -> Any:
    """The ``diffusers`` T2I model: any text-to-image pipeline (see the module docstring)."""
    from pasta_diffusers.pipeline import Defaults, build

    return build("diffusers", Defaults("auto"), model, **options)


def create_sdxl(model: str = SDXL_MODEL, **options: Any) -> Any:
    """The ``sdxl`` T2I model (see the module docstring for options)."""
    from pasta_diffusers.pipeline import Defaults, build

    return build("sdxl", Defaults("StableDiffusionXLPipeline", SDXL_MODEL, 30, 5.0), model, **options)


def create_sd(model: str = SD_MODEL, **options: Any) -> Any:
    """The ``sd`` T2I model (Stable Diffusion 1.x/2.x; see the module docstring for options)."""
    from pasta_diffusers.pipeline import Defaults, build

    return build("sd", Defaults("StableDiffusionPipeline", SD_MODEL, 30, 7.5), model, **options)


@hookimpl
def pasta_register_t2i_models(register: Any) -> None:
    register("diffusers", create_diffusers,
             "any diffusers text-to-image pipeline (model=folder or hub id; LoRA, presets, schedulers)")
    register("sdxl", create_sdxl, "Stable Diffusion XL via diffusers (model=folder or hub id)")
    register("sd", create_sd, "Stable Diffusion 1.x/2.x via diffusers (model=folder or hub id)")


@hookimpl
def pasta_register_bench_commands(bench: Any) -> None:
    from pasta_diffusers.bench import t2i_command

    bench.add_command(t2i_command)
