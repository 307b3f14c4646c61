"""pasta bench t2i: full-size pipelines from the shipped configs (checked against the
published model sizes without memory, on the meta device) and the toy run CI does."""

from __future__ import annotations

import json

import pytest

from pasta_diffusers.fullsize import build_parts, model_config, parameter_count

#: Weights of the published models (UNet, VAE, text encoders), as their model cards give them.
PUBLISHED = {
    "sdxl": {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840},
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480},
}


@pytest.mark.parametrize("name", ["sdxl", "sd15"])
def test_shipped_configs_build_the_published_models(name):
    import torch

    with torch.device("meta"):
        parts = build_parts(model_config(name))
    assert {key: parameter_count(part) for key, part in parts.items()} == PUBLISHED[name]


def _bench(tmp_path, *extra):
    from click.testing import CliRunner

    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    args = ["bench", "t2i", "--out", str(tmp_path), "--models", "sd15", "--dtypes", "fp32", "--compile", "off",
            "--images", "2", "--batch-size", "2", "--repeats", "2", *extra]
    return CliRunner().invoke(cli, args)


def test_toy_bench_times_each_setting_and_writes_its_report(tmp_path):
    result = _bench(tmp_path, "--toy", "--steps", "3,2")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "t2i.json").read_text())
    rows = report["rows"]
    assert [(r["steps"], r["guidance"], r["scheduler"]) for r in rows] == [
        (3, 0.0, "EulerDiscreteScheduler"), (2, 0.0, "EulerDiscreteScheduler")]  # 8 steps or fewer: few-step sampling
    for row in rows:
        assert row["toy"] and row["size"] == 64 and len(row["turn_s"]) == 2
        assert row["turn_s_min"] <= row["turn_s_median"] <= row["turn_s_max"]
        assert row["images_per_s"] == pytest.approx(2 / row["turn_s_median"], rel=0.01)
        assert row["peak_gpu_memory_gib"] is None  # no GPU
    table = (tmp_path / "t2i.md").read_text()
    assert "**Toy size**" in table and table.count("| sd15 (64 px) | fp32 | off |") == 2


def test_many_steps_keep_the_models_own_sampling_after_few(tmp_path):
    result = _bench(tmp_path, "--toy", "--steps", "2,9", "--repeats", "1")
    assert result.exit_code == 0, result.output
    few, many = json.loads((tmp_path / "t2i.json").read_text())["rows"]
    assert (few["steps"], few["guidance"]) == (2, 0.0)
    assert (many["steps"], many["guidance"]) == (9, 7.5)  # the model's own guidance: classifier-free guidance on
    assert many["scheduler"] == "EulerDiscreteScheduler" and many["timestep_spacing"] == "leading"


def test_a_cpu_run_drops_fp16(tmp_path):
    from click.testing import CliRunner

    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    result = CliRunner().invoke(cli, ["bench", "t2i", "--out", str(tmp_path), "--models", "sd15", "--device", "cpu",
                                      "--steps", "2", "--images", "1", "--batch-size", "1", "--repeats", "1",
                                      "--compile", "off"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "t2i.json").read_text())["rows"]
    assert [(r["dtype"], r["toy"]) for r in rows] == [("bf16", True)]  # default fp16,bf16: fp16 needs a GPU


@pytest.mark.parametrize("extra, message", [
    (["--steps", "30,x"], "Invalid value for --steps: expected whole numbers separated by commas"),
    (["--compile", "maybe"], "Invalid value for --compile: takes off, on or off,on"),
    (["--models", "sd9"], "Error: unknown model 'sd9'; use one of sdxl, sd15"),
])
def test_bad_options_are_one_line(tmp_path, extra, message):
    result = _bench(tmp_path, "--toy", *extra)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output
