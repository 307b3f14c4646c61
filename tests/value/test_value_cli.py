"""`pasta value train` and `pasta run --selector value`, and reward labels for human
sessions (pasta_register_value_models, pasta_register_selectors, pasta_register_commands)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from pasta_core.errors import InvalidValueError  # noqa: E402
from pasta_core.store import read_trajectories, write_trajectories  # noqa: E402
from pasta_core.testing.fakes import FakeT2I, FakeUserModel  # noqa: E402
from pasta_core.types import Candidate, Trajectory, Turn  # noqa: E402
from pasta_selectors import RandomSelector  # noqa: E402
from pasta_value.rewards import column_loader, label_trajectory, trajectory_rewards  # noqa: E402
from pasta_value.synthetic import WordWorld  # noqa: E402

TINY = ["--model-option", "encoder=words", "--model-option", "dim=16", "--model-option", "width=16"]


def _invoke(args):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result


def test_plugin_registers_value_models_selector_and_command() -> None:
    """The pasta_register_value_models / selectors / commands hooks are wired up."""
    from pasta_core import get_plugins

    plugins = get_plugins()
    assert {"embedded", "causal-lm"} <= set(plugins.registry("value-model").names())
    assert "value" in plugins.registry("selector").names()
    assert "train" in _invoke(["value", "--help"]).output


def test_train_then_run_with_the_value_selector(tmp_path) -> None:
    """Train on simulated trajectories, then play a simulated session with the checkpoint."""
    world = WordWorld(turns=2)
    write_trajectories(tmp_path / "sim.parquet", world.episodes(RandomSelector(), 20, seed=0))
    out = tmp_path / "value"
    result = _invoke(["value", "train", "--data", str(tmp_path / "sim.parquet"), "--out", str(out),
                      "--steps", "6", "--batch-size", "16", "--save-every", "3", *TINY])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["plugin"] == "embedded" and config["training"]["step"] == 6
    assert config["training"]["iql"]["optimizer"] == "adafactor"
    assert (out / "model.safetensors").is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1  # log_every 10: the last step
    runs = tmp_path / "runs"
    result = _invoke(["run", "--selector", "value", "--value-model", str(out), "--user", "sim",
                      "--turns", "2", "--images", "1", "--out", str(runs), "--seed", "3"])
    assert result.exit_code == 0, result.output
    (trajectory,) = read_trajectories(next(runs.rglob("trajectory.parquet")))
    assert len(trajectory.turns) == 2


def test_train_without_rewards_or_user_model_says_what_to_do(tmp_path) -> None:
    """A human session (no reward) needs --user-model."""
    write_trajectories(tmp_path / "human.parquet", [_human_session()])
    result = CliRunner().invoke(_cli(), ["value", "train", "--data", str(tmp_path / "human.parquet"),
                                         "--out", str(tmp_path / "v"), "--steps", "1", *TINY])
    assert result.exit_code != 0 and "--user-model" in result.output


def _cli():
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    return cli


def _human_session(session: str = "h0") -> Trajectory:
    cands = [Candidate(t, c) for t, c in [("red fox", "a"), ("blue fox", "b"), ("green fox", "c")]]
    turns = [Turn(cands, cands, 1, seeds=[[1], [2], [3]]), Turn(cands, cands[:2], 0, seeds=[[4], [5]])]
    return Trajectory(session, "a fox", turns)


def test_human_rewards_are_utilities_of_the_most_likely_type() -> None:
    """Label = R_{k*}(chosen column), k* = argmax posterior; sparse keeps only the last."""
    user_model, t2i = FakeUserModel(types=3), FakeT2I()
    session = _human_session()
    columns = column_loader(".", t2i)(session)
    observed = [(cols, turn.choice) for cols, turn in zip(columns, session.turns)]
    k = int(np.argmax(user_model.posterior(session.initial_prompt, observed)))
    expected = [user_model.utilities("a fox", cols)[k, choice] for cols, choice in observed]
    assert label_trajectory(session, user_model, columns) == pytest.approx(expected)
    loader = column_loader(".", t2i)
    assert trajectory_rewards(session, "dense", user_model, loader) == pytest.approx(expected)
    assert trajectory_rewards(session, "sparse", user_model, loader) == pytest.approx([0.0, expected[1]])


def test_recorded_rewards_are_used_unless_relabelled() -> None:
    """Simulated sessions keep their rewards; sparse zeroes all but the final turn."""
    session = _human_session()
    turns = [Turn(t.candidates, t.slate, t.choice, reward=r, seeds=t.seeds) for t, r in zip(session.turns, [0.3, 0.9])]
    sim = Trajectory("s", "a fox", turns)
    assert trajectory_rewards(sim, "dense") == [0.3, 0.9]
    assert trajectory_rewards(sim, "sparse") == [0.0, 0.9]
    relabelled = trajectory_rewards(sim, "sparse", FakeUserModel(), column_loader(".", FakeT2I()), relabel=True)
    assert relabelled[-1] != 0.9
    with pytest.raises(InvalidValueError, match="user-model"):
        trajectory_rewards(session, "sparse")


def test_images_are_read_from_refs_beside_the_file(tmp_path) -> None:
    """image_refs are relative to the trajectory file's folder; no T2I needed then."""
    session = _human_session()
    images = FakeT2I().render(["x"] * 5, list(range(5)))
    refs, i = [], 0
    for turn in session.turns:
        turn_refs = []
        for _ in turn.slate:
            images[i].save(tmp_path / f"img{i}.png")
            turn_refs.append([f"img{i}.png"])
            i += 1
        refs.append(turn_refs)
    turns = [Turn(t.candidates, t.slate, t.choice, seeds=t.seeds, image_refs=r) for t, r in zip(session.turns, refs)]
    columns = column_loader(tmp_path)(Trajectory("h", "a fox", turns))
    assert [len(c) for c in columns] == [3, 2]
    assert np.array_equal(np.asarray(columns[1][1].images[0]), np.asarray(images[4]))
    with pytest.raises(InvalidValueError, match="--t2i"):
        column_loader(tmp_path / "elsewhere")(Trajectory("h", "a fox", turns))


def test_cli_labels_human_sessions_with_a_user_model(tmp_path) -> None:
    """--user-model simple --t2i procedural labels sessions recorded without rewards."""
    write_trajectories(tmp_path / "human.parquet", [_human_session("h0"), _human_session("h1")])
    result = _invoke(["value", "train", "--data", str(tmp_path), "--out", str(tmp_path / "v"),
                      "--user-model", "simple", "--t2i", "procedural", "--steps", "2", "--batch-size", "4", *TINY])
    assert result.exit_code == 0, result.output
    assert "final_reward_mean" in result.output
