"""`pasta run` end to end, human mode through stdin, resume, and `pasta --help`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pasta_core.store import read_trajectories


def _session_dir(out):
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


@pytest.mark.slow
def test_sim_run_end_to_end_as_a_user_would(tmp_path):
    """The README's main command, in a subprocess through the installed console script."""
    result = subprocess.run(
        [sys.executable, "-m", "pasta_cli", "run", "--user", "sim", "--out", str(tmp_path), "--seed", "4"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    folder = _session_dir(tmp_path)
    assert f"Output: {folder}" in result.stdout
    (t,) = read_trajectories(folder / "trajectory.parquet")
    assert len(t.turns) == 5 and t.user_type is not None
    assert t.rewards[-1] is not None and t.rewards[:4] == [0.0] * 4
    assert len(list((folder / "images").rglob("*.png"))) == 80


def test_human_mode_reasks_on_invalid_answers(cli_runner, tmp_path):
    answers = ["0", "5", "abc", "", "2", " ".join(["w"] * 13), "too dark",
               "1", "", "4", "", "3", "", "2", ""]
    result = cli_runner.invoke(
        ["run", "--user", "human", "--prompt", "a red fox", "--out", str(tmp_path)], input="\n".join(answers) + "\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Please type a number from 1 to 4") == 4
    assert "please shorten it" in result.output
    assert "grids/turn-1.png" in result.output
    (t,) = read_trajectories(_session_dir(tmp_path) / "trajectory.parquet")
    assert [x.choice for x in t.turns] == [1, 0, 3, 2, 1]
    assert t.turns[0].critique == "too dark" and t.turns[1].critique is None
    assert all(x.reward is None for x in t.turns)


def test_interrupted_human_session_resumes(cli_runner, tmp_path):
    first = cli_runner.runner.invoke(
        cli_runner.cli, ["run", "--prompt", "a tiny boat", "--out", str(tmp_path)], input="1\n\n2\n\n"
    )
    assert first.exit_code != 0  # stdin ran out: the person left after two turns
    folder = _session_dir(tmp_path)
    assert len(next(read_trajectories(folder / "trajectory.parquet")).turns) == 2
    second = cli_runner.invoke(["run", "--resume", str(folder)], input="3\n\n4\n\n1\n\n")
    assert second.exit_code == 0, second.output
    assert "Resuming session" in second.output and "at turn 3" in second.output
    (t,) = read_trajectories(folder / "trajectory.parquet")
    assert [x.choice for x in t.turns] == [0, 1, 2, 3, 0]


def test_resume_continues_the_same_simulated_person(cli_runner, tmp_path):
    """Killed after 2 turns and resumed without --seed or --user: the folder's seed, user
    kind, user model and user type carry on, so the trajectory equals an uninterrupted one."""
    import shutil

    from pasta_core.store import write_trajectories

    whole = cli_runner.invoke(["run", "--user", "sim", "--seed", "3", "--out", str(tmp_path / "a")])
    assert whole.exit_code == 0, whole.output
    folder_a = _session_dir(tmp_path / "a")
    (expected,) = read_trajectories(folder_a / "trajectory.parquet")
    folder_b = tmp_path / "b" / folder_a.name
    shutil.copytree(folder_a, folder_b)
    cut = type(expected)(expected.session_id, expected.initial_prompt, expected.turns[:2], expected.user_type,
                         expected.metadata)
    write_trajectories(folder_b / "trajectory.parquet", [cut])
    resumed = cli_runner.invoke(["run", "--resume", str(folder_b)])
    assert resumed.exit_code == 0, resumed.output
    assert "at turn 3 of 5" in resumed.output
    (again,) = read_trajectories(folder_b / "trajectory.parquet")
    assert again.user_type == expected.user_type and again.turns == expected.turns


def test_resume_refuses_flags_that_would_change_the_session(cli_runner, tmp_path):
    done = cli_runner.invoke(["run", "--user", "sim", "--turns", "1", "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output
    folder = _session_dir(tmp_path)
    for flags in (["--seed", "5"], ["--generator", "template"], ["--turns", "3"], ["--user-type", "1"]):
        result = cli_runner.runner.invoke(cli_runner.cli, ["run", "--resume", str(folder), *flags])
        assert result.exit_code == 2 and "session.json" in result.output, (flags, result.output)
    finished = cli_runner.invoke(["run", "--resume", str(folder)])
    assert finished.exit_code == 0 and "already finished" in finished.output
    assert "nothing to resume" in finished.output and "Resuming" not in finished.output


def test_an_empty_prompt_is_refused(cli_runner):
    result = cli_runner.runner.invoke(cli_runner.cli, ["run", "--user", "sim", "--prompt", "  "])
    assert result.exit_code == 2 and "prompt" in result.output


def test_unknown_plugin_name_is_a_clear_error(cli_runner):
    result = cli_runner.runner.invoke(cli_runner.cli, ["run", "--generator", "gemni", "--user", "sim"])
    assert result.exit_code != 0
    assert "unknown generator 'gemni'; installed:" in result.output and "template" in result.output


def test_bad_option_syntax(cli_runner):
    result = cli_runner.runner.invoke(cli_runner.cli, ["run", "--t2i-option", "novalue", "--user", "sim"])
    assert result.exit_code == 2 and "key=value" in result.output


def test_help_does_not_import_heavy_libraries():
    code = "import sys; from pasta_cli import main; sys.argv=['pasta','--help']\ntry: main()\nexcept SystemExit: pass\nprint(sorted(m for m in ('torch','pyarrow','diffusers','transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_errors_a_user_causes_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    """A corrupt session file ends in one line and exit 1; --debug lets the exception through.
    A bad option (an --out that is a file) is one line too, with click's exit code 2."""
    from pasta_cli import main
    from pasta_core.errors import SessionError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.delenv("PASTA_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--user", "sim", "--turns", "1", "--out", str(blocker)])
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and len(err.splitlines()) == 1 and "is a file" in err
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "session.json").write_text("{not json")
    args = ["run", "--resume", str(folder)]
    with pytest.raises(SystemExit) as stopped:
        main(args)
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 1
    assert len(err.splitlines()) == 1 and err.startswith("Error:") and "Traceback" not in err
    assert "session.json" in err
    with pytest.raises(SessionError):
        main(["--debug", *args])


def test_usage_errors_are_one_line_and_a_bare_group_shows_its_help(capsys):
    """click prints a usage error in three lines; the boundary prints one, with where to
    read the usage. ``pasta`` alone still shows its help."""
    from pasta_cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["run", "--turns", "0"])
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and err.splitlines() == [
        "Error: Invalid value for '--turns': 0 is not in the range 1<=x<=50. (see: pasta run --help)"]
    with pytest.raises(SystemExit):
        main([])
    err = capsys.readouterr().err
    assert "Usage: pasta [OPTIONS] COMMAND" in err and "Commands:" in err and "Error" not in err


@pytest.mark.slow
def test_ctrl_c_says_where_the_session_is_and_how_to_resume_it(tmp_path):
    """A real SIGINT while the person is asked for turn 2: the answered turn is saved, and
    the message names the folder and the command that continues the session."""
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "pasta_cli", "run", "--prompt", "a tiny boat", "--turns", "3", "--out", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    process.stdin.write("1\n\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("*/grids/turn-2.png")):  # turn 2 is on show: it waits for an answer
        assert time.monotonic() < deadline and process.poll() is None, "turn 2 was not shown"
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    folder = _session_dir(tmp_path)
    assert f"Stopped after 1 of 3 turns; the session is saved in {folder}" in err
    assert f"Continue it with: pasta run --resume {folder}" in err
    resumed = subprocess.run(
        [sys.executable, "-m", "pasta_cli", "run", "--resume", str(folder)],
        input="2\n\n3\n\n", capture_output=True, text=True, timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    (t,) = read_trajectories(folder / "trajectory.parquet")
    assert [x.choice for x in t.turns] == [0, 1, 2]


def test_show_prompts_prints_the_prompt_behind_each_column(cli_runner, tmp_path):
    args = ["run", "--prompt", "a red bicycle", "--turns", "2", "--out", str(tmp_path)]
    plain = cli_runner.invoke(args, input="3\n\n1\n\n")
    shown = cli_runner.invoke([*args, "--show-prompts"], input="3\n\n1\n\n")
    assert plain.exit_code == 0 and shown.exit_code == 0, shown.output
    folders = sorted(tmp_path.iterdir(), key=lambda p: p.stat().st_mtime)
    (t,) = read_trajectories(folders[-1] / "trajectory.parquet")
    assert f"column 3: {t.turns[0].chosen.text}" in shown.output
    assert f"column 1: {t.turns[1].chosen.text}" in shown.output
    assert shown.output.count("  column ") == 8 and "  column " not in plain.output
    sim = cli_runner.runner.invoke(cli_runner.cli, ["run", "--user", "sim", "--show-prompts", "--out", str(tmp_path)])
    assert sim.exit_code == 2 and "--user human" in sim.output


def test_user_types_are_numbered_from_one(cli_runner, tmp_path):
    """--user-type 4 is the fourth of the simple model's 4 types (0-based 3 in the record);
    0 and 5 are refused, naming the range people count in."""
    result = cli_runner.invoke(["run", "--user", "sim", "--user-type", "4", "--turns", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (t,) = read_trajectories(_session_dir(tmp_path) / "trajectory.parquet")
    assert t.user_type == 3
    zero = cli_runner.runner.invoke(cli_runner.cli, ["run", "--user", "sim", "--user-type", "0", "--out", str(tmp_path)])
    assert zero.exit_code == 2 and "--user-type" in zero.output
    five = cli_runner.runner.invoke(cli_runner.cli, ["run", "--user", "sim", "--user-type", "5", "--out", str(tmp_path)])
    assert five.exit_code == 1 and "numbered 1 to 4" in five.output
