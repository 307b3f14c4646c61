"""Text-to-image plugins over diffusers: ``sdxl`` (StableDiffusionXLPipeline) and ``sd``
(StableDiffusionPipeline).

Options (``--t2i-option key=value``): ``model`` (a pipeline folder or a Hugging Face id;
with ``HF_HUB_OFFLINE=1`` an id must already be in the cache), ``device`` (auto, cpu, cuda,
cuda:1, mps), ``dtype`` (auto = fp16 on GPU, fp32 on CPU; fp16, bf16, fp32), ``scheduler``
(euler, euler-a, ddim, dpm++, dpm++-karras, unipc, ... or a diffusers class name),
``steps``, ``guidance``, ``width``, ``height``, ``batch_size`` (images per pipeline call),
``attention_slicing``, ``vae_tiling``, ``cpu_offload`` (needs accelerate), ``variant``
(e.g. fp16 weights on the hub), ``negative_prompt``, ``progress``, ``reproducible``
(default true: pad partial batches so an image never depends on its batch companions).
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl

SDXL_MODEL = "stabilityai/stable-diffusion-xl-base-1.0"
SD_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def create_sdxl(model: str = SDXL_MODEL, steps: Any = 30, guidance: Any = 5.0, **options: Any) -> Any:
    """The ``sdxl`` T2I model (see the module docstring for options)."""
    from pasta_diffusers.pipeline import build

    return build("sdxl", "StableDiffusionXLPipeline", model, steps=steps, guidance=guidance, **options)


def create_sd(model: str = SD_MODEL, steps: Any = 30, guidance: Any = 7.5, **options: Any) -> Any:
    """The ``sd`` T2I model (Stable Diffusion 1.x/2.x; see the module docstring for options)."""
    from pasta_diffusers.pipeline import build

    return build("sd", "StableDiffusionPipeline", model, steps=steps, guidance=guidance, **options)


@hookimpl
def pasta_register_t2i_models(register: Any) -> None:
    register("sdxl", create_sdxl, "Stable Diffusion XL via diffusers (model=folder or hub id)")
    register("sd", create_sd, "Stable Diffusion 1.x/2.x via diffusers (model=folder or hub id)")
