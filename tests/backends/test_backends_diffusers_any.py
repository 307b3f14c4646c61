"""The ``diffusers`` T2I plugin: any text-to-image pipeline (SDXL, SD and the transformer
pipeline SD3, tiny and random, saved to a folder and loaded by path), LoRA adapters,
scheduler settings and few-step presets."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core import get_plugins
from pasta_core.errors import InvalidValueError, PastaError
from pasta_diffusers.lora import Lora, parse_loras
from pasta_diffusers.pipeline import absent_parts

SMALL = {"steps": "2", "width": "64", "height": "64", "device": "cpu"}
PROMPTS, SEEDS = ["a red fox", "a blue bird", "a red fox"], [5, 6, 7]
CLASSES = {"sdxl": "StableDiffusionXLPipeline", "sd": "StableDiffusionPipeline", "sd3": "StableDiffusion3Pipeline"}


def _pixels(images):
    return [np.asarray(image) for image in images]


def _direct(folder, prompts, seeds, steps=2, loras=(), **call):
    """The same images from diffusers' own API, without PASTA."""
    import diffusers
    import torch

    pipe = diffusers.AutoPipelineForText2Image.from_pretrained(folder, **absent_parts(folder))
    for index, (path, _scale) in enumerate(loras):
        pipe.load_lora_weights(path, adapter_name=f"a{index}")
    if loras:
        pipe.set_adapters([f"a{i}" for i in range(len(loras))], adapter_weights=[s for _, s in loras])
    pipe.set_progress_bar_config(disable=True)
    return _pixels(pipe(prompt=prompts, generator=[torch.Generator().manual_seed(s) for s in seeds],
                        num_inference_steps=steps, width=64, height=64, **call).images)


@pytest.fixture
def folders(tiny_sdxl, tiny_sd, tiny_sd3):
    return {"sdxl": tiny_sdxl, "sd": tiny_sd, "sd3": tiny_sd3}


@pytest.mark.parametrize("family", ["sdxl", "sd", "sd3"])
def test_any_pipeline_loads_by_path_and_is_bit_exact_alone_or_in_a_batch(folders, family):
    """AutoPipelineForText2Image picks the family's pipeline; one call of 3 (padded to 4)
    equals diffusers' own call bit for bit, and each image rendered alone equals its batched self."""
    t2i = get_plugins().create("t2i", "diffusers", model=folders[family], batch_size="4", **SMALL)
    assert type(t2i.pipeline).__name__ == CLASSES[family]
    batch = _pixels(t2i.render(PROMPTS, SEEDS))
    for index in range(3):
        alone = _pixels(t2i.render([PROMPTS[index]], [SEEDS[index]]))[0]
        np.testing.assert_array_equal(alone, batch[index])
    assert not np.array_equal(batch[0], batch[2])  # same prompt, another seed
    direct = _direct(folders[family], PROMPTS + PROMPTS[-1:], SEEDS + SEEDS[-1:])
    for ours, theirs in zip(batch, direct):
        np.testing.assert_array_equal(ours, theirs)


def test_a_named_pipeline_class_is_used(tiny_sd3):
    t2i = get_plugins().create("t2i", "diffusers", model=tiny_sd3, pipeline="StableDiffusion3Pipeline", **SMALL)
    assert type(t2i.pipeline).__name__ == "StableDiffusion3Pipeline"
    assert t2i.guidance is None  # the pipeline's own default guidance


@pytest.mark.parametrize("name", ["NoSuchPipeline", "AutoencoderKL"])
def test_a_name_that_is_no_pipeline_is_refused(tiny_sd3, name):
    with pytest.raises(InvalidValueError, match="option pipeline must be auto or a diffusers pipeline class"):
        get_plugins().create("t2i", "diffusers", model=tiny_sd3, pipeline=name, **SMALL)


def test_the_generic_plugin_needs_a_model():
    with pytest.raises(InvalidValueError, match="needs option model"):
        get_plugins().create("t2i", "diffusers", device="cpu")


def test_an_unknown_option_is_refused_in_one_line(tiny_sd3):
    with pytest.raises(PastaError, match="no option 'stepz'"):
        get_plugins().create("t2i", "diffusers", model=tiny_sd3, stepz="2", device="cpu")


@pytest.mark.parametrize("family", ["sdxl", "sd3"])
def test_loras_equal_diffusers_own_adapters_and_fuse(folders, tiny_loras, family):
    """Two adapters with their scales: unfused, the images equal diffusers' own
    set_adapters output bit for bit; fused, within one level of it; both change the image."""
    first, second = tiny_loras[family]
    spec = f"{first}:0.7,{second}:0.4"
    base = _pixels(get_plugins().create("t2i", "diffusers", model=folders[family], **SMALL).render(PROMPTS[:1], SEEDS[:1]))
    # One row per call, as in the direct call (kernels round differently for other batch sizes).
    unfused = get_plugins().create("t2i", "diffusers", model=folders[family], lora=spec, lora_fuse="false",
                                   batch_size="1", **SMALL)
    fused = get_plugins().create("t2i", "diffusers", model=folders[family], lora=spec, batch_size="1", **SMALL)
    assert unfused.pipeline.get_active_adapters() == ["lora0", "lora1"]
    assert fused.pipeline.get_active_adapters() == []  # fused into the weights, adapter layers unloaded
    plain, merged = _pixels(unfused.render(PROMPTS[:1], SEEDS[:1])), _pixels(fused.render(PROMPTS[:1], SEEDS[:1]))
    direct = _direct(folders[family], PROMPTS[:1], SEEDS[:1], loras=[(first, 0.7), (second, 0.4)])
    np.testing.assert_array_equal(plain[0], direct[0])
    assert np.abs(merged[0].astype(int) - plain[0]).max() <= 1
    assert np.abs(plain[0].astype(int) - base[0]).max() > 10


def test_a_lora_at_scale_zero_changes_nothing(tiny_sdxl, tiny_loras):
    base = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, **SMALL).render(PROMPTS[:1], SEEDS[:1])
    zero = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, lora=f"{tiny_loras['sdxl'][0]}:0",
                                lora_fuse="false", **SMALL).render(PROMPTS[:1], SEEDS[:1])
    np.testing.assert_array_equal(_pixels(zero)[0], _pixels(base)[0])


def test_a_lora_folder_loads_its_default_file(tiny_sdxl, tiny_loras):
    from pathlib import Path

    t2i = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, lora=str(Path(tiny_loras["sdxl"][0]).parent),
                               lora_fuse="false", **SMALL)
    assert t2i.pipeline.get_active_adapters() == ["lora0"]


@pytest.mark.parametrize("name, match", [
    ("nowhere.safetensors", "neither a .safetensors file nor a folder"),
    ("weights.bin", "is not a .safetensors file"),
])
def test_bad_loras_are_refused(tiny_sdxl, tmp_path, name, match):
    path = tmp_path / name
    if name.endswith(".bin"):
        path.write_bytes(b"\0" * 8)
    with pytest.raises(InvalidValueError, match=match):
        get_plugins().create("t2i", "sdxl", model=tiny_sdxl, lora=str(path), **SMALL)


@pytest.mark.parametrize("text, loras", [
    ("a.safetensors", [Lora("a.safetensors", 1.0)]),
    ("a.safetensors:0.5, /x/b:2", [Lora("a.safetensors", 0.5), Lora("/x/b", 2.0)]),
    ("C:\\loras\\c.safetensors", [Lora("C:\\loras\\c.safetensors", 1.0)]),
    ("odd:name.safetensors", [Lora("odd:name.safetensors", 1.0)]),
    ("", []),
])
def test_lora_option_parsing(text, loras):
    assert parse_loras(text) == loras


def test_scheduler_and_its_settings(tiny_sdxl):
    t2i = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, scheduler="euler-a",
                               **{"scheduler.timestep_spacing": "trailing", "scheduler.steps_offset": "0"}, **SMALL)
    config = t2i.pipeline.scheduler.config
    assert type(t2i.pipeline.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    assert config.timestep_spacing == "trailing" and config.steps_offset == 0
    # A setting alone keeps the pipeline's scheduler class.
    kept = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, **{"scheduler.timestep_spacing": "trailing"}, **SMALL)
    assert type(kept.pipeline.scheduler).__name__ == "EulerDiscreteScheduler"
    assert kept.pipeline.scheduler.config.timestep_spacing == "trailing"


def test_an_unknown_scheduler_setting_is_refused(tiny_sdxl):
    with pytest.raises(InvalidValueError, match="EulerDiscreteScheduler has no setting warp_speed; its settings: "):
        get_plugins().create("t2i", "sdxl", model=tiny_sdxl, **{"scheduler.warp_speed": "9"}, **SMALL)


@pytest.mark.parametrize("preset, scheduler, steps, guidance", [
    ("turbo", "EulerAncestralDiscreteScheduler", 1, 0.0),
    ("lightning", "EulerDiscreteScheduler", 4, 0.0),
    ("lcm", "LCMScheduler", 4, 1.0),
])
def test_few_step_presets(tiny_sdxl, preset, scheduler, steps, guidance):
    t2i = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, preset=preset, device="cpu", width="64", height="64")
    assert type(t2i.pipeline.scheduler).__name__ == scheduler
    assert (t2i.steps, t2i.guidance) == (steps, guidance)
    if preset != "lcm":
        assert t2i.pipeline.scheduler.config.timestep_spacing == "trailing"
    assert len(t2i.render(["a tree"], [1])) == 1


def test_explicit_options_win_over_a_preset(tiny_sdxl):
    t2i = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, preset="turbo", steps="3", guidance="1.5",
                               **{"scheduler.timestep_spacing": "leading"}, device="cpu")
    assert (t2i.steps, t2i.guidance) == (3, 1.5)
    assert t2i.pipeline.scheduler.config.timestep_spacing == "leading"


def test_an_unknown_preset_is_refused(tiny_sdxl):
    with pytest.raises(InvalidValueError, match="unknown preset 'warp'; use one of none, turbo, lightning, lcm"):
        get_plugins().create("t2i", "sdxl", model=tiny_sdxl, preset="warp", device="cpu")


@pytest.mark.slow
def test_conformance_sd3(tiny_sd3):
    from pasta_core.testing import check_t2i

    check_t2i(get_plugins().create("t2i", "diffusers", model=tiny_sd3, batch_size="4", **SMALL), max_examples=2)
