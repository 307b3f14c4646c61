"""Bit-exactness of the diffusers T2I plugin per pipeline family, on tiny random pipelines
loaded by path (issue 18): for SDXL, SD and SD3, the largest pixel difference between

- each image rendered alone and the same (prompt, seed) inside a turn of 16 (padded batches);
- the turn and diffusers' own call with the same prompts and generators;
- with two LoRA adapters: unfused against diffusers' set_adapters output, fused against unfused.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_t2i_exact.py
"""

from __future__ import annotations

import tempfile

import numpy as np
import torch

from pasta_core import get_plugins
from pasta_diffusers.pipeline import absent_parts
from pasta_diffusers.tiny import save_tiny_lora, save_tiny_pipeline

SMALL = {"steps": "2", "width": "64", "height": "64", "device": "cpu"}
PROMPTS = [f"a lighthouse on a cliff, study {i % 5}" for i in range(16)]
SEEDS = [100 + 7 * i for i in range(16)]


def pixels(images):
    return np.stack([np.asarray(image).astype(int) for image in images])


def direct(folder, prompts, seeds, loras=()):
    import diffusers

    pipe = diffusers.AutoPipelineForText2Image.from_pretrained(folder, **absent_parts(folder))
    for index, (path, _scale) in enumerate(loras):
        pipe.load_lora_weights(path, adapter_name=f"a{index}")
    if loras:
        pipe.set_adapters([f"a{i}" for i in range(len(loras))], adapter_weights=[s for _, s in loras])
    pipe.set_progress_bar_config(disable=True)
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    return pixels(pipe(prompt=prompts, generator=generators, num_inference_steps=2, width=64, height=64).images)


def family(kind: str, root: str) -> dict[str, int]:
    folder = str(save_tiny_pipeline(kind, f"{root}/{kind}"))
    t2i = get_plugins().create("t2i", "diffusers", model=folder, batch_size="16", **SMALL)
    turn = pixels(t2i.render(PROMPTS, SEEDS))
    alone = pixels([t2i.render([p], [s])[0] for p, s in zip(PROMPTS[:4], SEEDS[:4])])
    figures = {"alone_vs_turn": int(np.abs(alone - turn[:4]).max()),
               "turn_vs_diffusers": int(np.abs(turn - direct(folder, PROMPTS, SEEDS)).max())}
    if kind != "sd":
        loras = [(str(save_tiny_lora(folder, f"{root}/{kind}-lora{i}", seed=i)), scale)
                 for i, scale in enumerate((0.7, 0.4))]
        spec = ",".join(f"{path}:{scale}" for path, scale in loras)
        unfused = get_plugins().create("t2i", "diffusers", model=folder, lora=spec, lora_fuse="false", batch_size="4",
                                       **SMALL)
        fused = get_plugins().create("t2i", "diffusers", model=folder, lora=spec, batch_size="4", **SMALL)
        plain, merged = pixels(unfused.render(PROMPTS[:4], SEEDS[:4])), pixels(fused.render(PROMPTS[:4], SEEDS[:4]))
        figures["lora_unfused_vs_diffusers"] = int(np.abs(plain - direct(folder, PROMPTS[:4], SEEDS[:4], loras)).max())
        figures["lora_fused_vs_unfused"] = int(np.abs(merged - plain).max())
        figures["lora_vs_no_lora"] = int(np.abs(plain - turn[:4]).max())
    return figures


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; largest pixel difference (0-255)")
    with tempfile.TemporaryDirectory() as root:
        for kind in ("sdxl", "sd", "sd3"):
            print(kind, family(kind, root), flush=True)


if __name__ == "__main__":
    main()
