"""pasta distill data / train from the command line: the figures printed, errors in one line."""

from __future__ import annotations

import json

from click.testing import CliRunner


def _invoke(*args):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    return CliRunner().invoke(cli, ["distill", *args])


def test_data_from_recorded_and_simulated_sessions_then_train(teacher_model, sessions, tmp_path):
    """Recorded sessions and sessions the teacher plays in simulation become pairs in three formats."""
    out = tmp_path / "data"
    result = _invoke("data", "--sessions", sessions, "--simulate", "2", "--teacher-option", f"model={teacher_model}",
                     "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "data.json").read_text())
    assert summary["sources"] == {"simulated": 10, "human": 30}
    assert {k: v["rows"] for k, v in summary["files"].items()} == {"openai": 40, "gemini": 40, "parquet": 40}
    assert "openai: 40 rows, every line checked against the provider's format" in result.output
    trained = _invoke("train", "--data", str(out), "--out", str(tmp_path / "model"), "--steps", "2", "--width", "16",
                      "--batch-size", "4", "--quiet")
    assert trained.exit_code == 0, trained.output
    assert "compact model:" in trained.output and "2 steps" in trained.output


def test_mistakes_are_one_line(tmp_path):
    for args, message in [
        (["data", "--out", str(tmp_path)], "nothing to distill: give --sessions PATH and/or --simulate N"),
        (["data", "--out", str(tmp_path), "--sessions", str(tmp_path)], "the value selector needs model=DIR"),
        (["data", "--out", str(tmp_path), "--sessions", str(tmp_path / "none"), "--teacher-selector", "random"],
         "no trajectory file or folder"),
        (["train", "--data", str(tmp_path), "--out", str(tmp_path / "m")], "no distillation pairs at"),
        (["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--steps", "0"], "--steps must be at least 1"),
    ]:
        result = _invoke(*args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_data_from_a_session_folder(teacher_model, tmp_path):
    """A session folder written by `pasta run` is a recorded session: one pair per answered turn."""
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    ran = CliRunner().invoke(cli, ["run", "--user", "sim", "--turns", "3", "--prompt", "a red fox", "--out",
                                   str(tmp_path / "runs"), "--t2i-option", "size=32"])
    assert ran.exit_code == 0, ran.output
    (folder,) = (tmp_path / "runs").iterdir()
    result = _invoke("data", "--sessions", str(folder), "--teacher-option", f"model={teacher_model}",
                     "--out", str(tmp_path / "data"), "--format", "openai", "--quiet")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (tmp_path / "data" / "openai.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and not (tmp_path / "data" / "gemini.jsonl").exists()
    assert 'Initial prompt (the person\'s intent): "a red fox"' in lines[2]["messages"][1]["content"]
    assert "Turn 2 chosen: column" in lines[2]["messages"][1]["content"]


def test_status_lines_follow_the_log_level(teacher_model, sessions, tmp_path):
    """What distill data / train wrote is their answer, on stdout at every level; the
    Trainer's loss records (which it used to print on stdout) go through logging: on stderr
    at info (the default), gone at --log-level warning."""
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    data = ["distill", "data", "--sessions", sessions, "--teacher-option", f"model={teacher_model}",
            "--format", "parquet", "--out", str(tmp_path / "data"), "--quiet"]
    train = ["distill", "train", "--data", str(tmp_path / "data"), "--steps", "2", "--width", "16",
             "--batch-size", "4", "--quiet"]
    for level in ("info", "warning"):
        made = CliRunner().invoke(cli, ["--log-level", level, *data])
        trained = CliRunner().invoke(cli, ["--log-level", level, *train, "--out", str(tmp_path / level)])
        assert made.exit_code == 0 and trained.exit_code == 0, made.output + trained.output
        shown = level == "info"
        assert "parquet: 30 rows -> " in made.stdout and "rows" not in made.stderr
        assert "compact model: " in trained.stdout and "use it: pasta run" in trained.stdout
        assert "distill step" not in trained.stdout and ("distill step 1: loss " in trained.stderr) == shown
