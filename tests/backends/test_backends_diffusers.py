"""The sdxl and sd T2I plugins on tiny random pipelines saved to a folder and loaded by path."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core import get_plugins
from pasta_core.errors import BackendError, InvalidValueError

SMALL = {"steps": "2", "width": "64", "height": "64", "device": "cpu"}


def _pixels(images):
    return [np.asarray(image) for image in images]


@pytest.fixture(scope="module")
def sdxl(tiny_sdxl):
    return get_plugins().create("t2i", "sdxl", model=tiny_sdxl, batch_size="16", **SMALL)


@pytest.fixture(scope="module")
def sdxl4(tiny_sdxl):
    return get_plugins().create("t2i", "sdxl", model=tiny_sdxl, batch_size="4", **SMALL)


@pytest.mark.slow
def test_bit_exact_against_a_direct_diffusers_call(sdxl, tiny_sdxl):
    """A turn of 16 (prompt, seed) pairs equals diffusers' own output, bit for bit, in one call."""
    import diffusers
    import torch

    prompts = [f"a white cat, style {i % 4}" for i in range(16)]
    seeds = [1000 + 7 * i for i in range(16)]
    calls = sdxl.calls
    images = sdxl.render(prompts, seeds)
    assert sdxl.calls == calls + 1
    pipe = diffusers.StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    pipe.set_progress_bar_config(disable=True)
    direct = pipe(
        prompt=prompts, generator=[torch.Generator().manual_seed(s) for s in seeds],
        num_inference_steps=2, guidance_scale=5.0, width=64, height=64,
    ).images
    assert all(a.size == (64, 64) for a in images)
    for ours, theirs in zip(_pixels(images), _pixels(direct)):
        np.testing.assert_array_equal(ours, theirs)
    # Different seeds give different images.
    assert not np.array_equal(_pixels(images)[0], _pixels(images)[4])


def test_any_image_can_be_reproduced_alone(sdxl4):
    images = _pixels(sdxl4.render(["a red fox", "a blue bird", "a red fox"], [5, 6, 7]))
    again = _pixels(sdxl4.render(["a blue bird"], [6]))[0]
    np.testing.assert_array_equal(again, images[1])
    assert not np.array_equal(images[0], images[2])  # same prompt, other seed


@pytest.mark.slow
def test_partial_batches_are_padded_so_images_do_not_depend_on_companions(sdxl4):
    """Alone, or beside other prompts, an image has the same pixels (a padded batch of 4)."""
    t2i = sdxl4
    pair = _pixels(t2i.render(["cat", "cat"], [0, 0]))
    alone = _pixels(t2i.render(["cat"], [0]))[0]
    mixed = _pixels(t2i.render(["a dog", "cat", "a hill"], [9, 0, 4]))[1]
    np.testing.assert_array_equal(pair[0], alone)
    np.testing.assert_array_equal(mixed, alone)


def test_no_padding_when_reproducible_is_off(tiny_sdxl):
    t2i = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, batch_size="4", reproducible="false", **SMALL)
    sizes = []
    pipeline = t2i.pipeline
    t2i.pipeline = lambda **kw: sizes.append(len(kw["prompt"])) or pipeline(**kw)
    assert len(t2i.render(["a", "b", "c"], [1, 2, 3])) == 3 and sizes == [3]


def test_batches_use_as_few_calls_as_the_batch_size_allows(tiny_sdxl):
    t2i = get_plugins().create("t2i", "sdxl", model=tiny_sdxl, batch_size="2", **SMALL)
    images = t2i.render(["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5])
    assert len(images) == 5 and t2i.calls == 3
    assert t2i.render([], []) == []


def test_sd_plugin_renders(tiny_sd):
    import diffusers
    import torch

    t2i = get_plugins().create("t2i", "sd", model=tiny_sd, scheduler="ddim", batch_size="2", **SMALL)
    assert type(t2i.pipeline.scheduler).__name__ == "DDIMScheduler"
    images = t2i.render(["a castle", "a boat"], [3, 4])
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(tiny_sd)
    pipe.scheduler = diffusers.DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    direct = pipe(prompt=["a castle", "a boat"], generator=[torch.Generator().manual_seed(s) for s in (3, 4)],
                  num_inference_steps=2, guidance_scale=7.5, width=64, height=64).images
    for ours, theirs in zip(_pixels(images), _pixels(direct)):
        np.testing.assert_array_equal(ours, theirs)


def test_options_are_applied(tiny_sdxl):
    t2i = get_plugins().create(
        "t2i", "sdxl", model=tiny_sdxl, scheduler="euler-a", attention_slicing="true",
        vae_tiling="yes", guidance="1.0", negative_prompt="blurry", **SMALL,
    )
    assert type(t2i.pipeline.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    assert t2i.pipeline.vae.use_tiling and t2i.guidance == 1.0
    assert len(t2i.render(["a tree"], [1])) == 1


@pytest.mark.slow
def test_conformance(sdxl4):
    from pasta_core.testing import check_t2i

    check_t2i(sdxl4, max_examples=2)


def test_missing_folder_says_where_to_put_weights(tmp_path):
    with pytest.raises(BackendError, match=r"model folder .*nowhere does not exist.*--t2i-option model="):
        get_plugins().create("t2i", "sdxl", model=str(tmp_path / "nowhere"), device="cpu")


def test_folder_without_a_pipeline_is_explained(tmp_path):
    with pytest.raises(BackendError, match="not a diffusers pipeline folder .*model_index.json"):
        get_plugins().create("t2i", "sd", model=str(tmp_path), device="cpu")


def test_uncached_hub_id_offline_says_where_to_put_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BackendError) as info:
        get_plugins().create("t2i", "sdxl", device="cpu")
    message = str(info.value)
    assert "'stabilityai/stable-diffusion-xl-base-1.0' is not a folder and is not in the Hugging Face cache" in message
    assert "HF_HUB_OFFLINE=1" in message and "huggingface-cli download stabilityai/stable-diffusion-xl-base-1.0" in message
    assert "--t2i-option model=/models/sdxl" in message


@pytest.mark.parametrize(
    "options, match",
    [
        ({"dtype": "fp16", "device": "cpu"}, "fp16 needs a GPU"),
        ({"dtype": "int4", "device": "cpu"}, "dtype must be one of"),
        ({"scheduler": "warp", "device": "cpu"}, "unknown scheduler 'warp'"),
        ({"steps": "0", "device": "cpu"}, "option steps must lie in 1..1000"),
        ({"width": "65", "device": "cpu"}, "multiple of 8"),
        ({"cpu_offload": "true", "device": "cpu"}, "cpu_offload=true needs a GPU"),
        ({"attention_slicing": "maybe", "device": "cpu"}, "must be true or false"),
    ],
)
def test_bad_options_are_refused(tiny_sdxl, options, match):
    with pytest.raises(InvalidValueError, match=match):
        get_plugins().create("t2i", "sdxl", model=tiny_sdxl, **options)


def test_cuda_device_without_a_gpu_is_refused(tiny_sdxl):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(InvalidValueError, match="torch sees no CUDA GPU"):
        get_plugins().create("t2i", "sdxl", model=tiny_sdxl, device="cuda")


def test_tiny_tokenizer_matches_open_clip():
    import open_clip

    from pasta_diffusers.tiny import clip_tokenizer

    text = "a white cat on a red sofa, oil painting!"
    ours = clip_tokenizer()(text).input_ids
    theirs = open_clip.get_tokenizer("ViT-B-32")([text])[0].tolist()
    assert ours == theirs[: len(ours)] and theirs[len(ours)] == 0
