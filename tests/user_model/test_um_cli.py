"""The command line: pasta user-model train|eval|show and pasta score, end to end."""

from __future__ import annotations

import json

import pytest

from tests.user_model.fixtures import png, write_hpsv2, write_pickapic, write_trajectories


@pytest.mark.slow
def test_train_eval_show_score(cli_runner, tmp_path):
    data = write_pickapic(tmp_path / "pap.parquet", users=6, per_user=6)
    out = tmp_path / "um"
    args = ["user-model", "train", "--data", f"pickapic:{data}", "--out", str(out), "--types", "2",
            "--encoder-option", "dim=32", "--steps", "6", "--batch-size", "4", "--save-every", "3"]
    result = cli_runner.invoke(args)
    assert result.exit_code == 0, result.output
    assert "36 read, 0 skipped" in result.output and (out / "model.safetensors").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["plugin"] == "clip-em" and config["satisfaction"] == "ordinal"
    assert len((out / "metrics.jsonl").read_text().splitlines()) >= 1
    again = cli_runner.invoke([*args[:-6], "--steps", "8", "--batch-size", "4", "--save-every", "3"])
    assert "Resuming at step 6" in again.output

    traj = write_trajectories(tmp_path / "traj")
    _, test = write_hpsv2(tmp_path / "hps")
    result = cli_runner.invoke(["user-model", "eval", str(out), "--data", f"pickapic:{data}",
                                "--data", f"hpsv2-test:{test}", "--data", f"trajectories:{traj}"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert 0 <= lines[0]["accuracy"] <= 1 and -1 <= lines[1]["spearman"] <= 1
    assert 0 <= lines[2]["choice_accuracy"] <= 1

    picture = tmp_path / "types.png"
    result = cli_runner.invoke(["user-model", "show", str(out), "--picture", str(picture), "--prompts", "3"])
    assert result.exit_code == 0 and '"prior"' in result.output and picture.is_file()

    image = tmp_path / "x.png"
    image.write_bytes(png((10, 200, 10)))
    result = cli_runner.invoke(["score", "--user-model", str(out), "--prompt", "a green field", "--json", str(image)])
    rows = json.loads(result.output)
    assert len(rows[0]["per_type"]) == 2
    # Types are numbered from 1, as everywhere people see them: --type 2 is the second.
    second = cli_runner.invoke(["score", "--user-model", str(out), "--prompt", "a green field", "--type", "2", "--json",
                                str(image)])
    assert json.loads(second.output)[0]["score"] == pytest.approx(rows[0]["per_type"][1], abs=1e-4)
    for bad in ("0", "3"):
        refused = cli_runner.runner.invoke(cli_runner.cli, ["score", "--user-model", str(out), "--prompt", "a field",
                                                            "--type", bad, str(image)])
        assert refused.exit_code == 2 and "--type" in refused.output, refused.output


def test_train_needs_usable_data(cli_runner, tmp_path):
    data = write_pickapic(tmp_path / "pap.parquet", users=1, per_user=2, corrupt_rows=(0, 1))
    result = cli_runner.runner.invoke(cli_runner.cli, ["user-model", "train", "--data", f"pickapic:{data}",
                                                       "--out", str(tmp_path / "o"), "--strict"])
    assert result.exit_code != 0 and "row 0" in result.output


def test_bad_data_spec_is_explained(cli_runner, tmp_path):
    result = cli_runner.runner.invoke(cli_runner.cli, ["user-model", "train", "--data", "parquet:x",
                                                       "--out", str(tmp_path)])
    assert result.exit_code != 0 and "KIND:PATH" in result.output


@pytest.mark.slow
def test_a_checkpoint_is_the_simulated_user_of_pasta_run(cli_runner, tmp_path):
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_core import get_plugins

    fresh = get_plugins().create("user-model", "clip-em", types=2, dim=32, seed=1)
    save_checkpoint(tmp_path / "um", fresh.model, fresh.prior)
    result = cli_runner.invoke(["run", "--user", "sim", "--user-model", str(tmp_path / "um"), "--turns", "2",
                                "--prompt", "a white cat", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "turn 2: chose column" in result.output
