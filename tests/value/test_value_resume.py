"""A killed IQL run resumes to exactly the result of an uninterrupted one."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from pasta_core.errors import InvalidValueError  # noqa: E402
from pasta_core.iql import IQLConfig, build_transitions, train_iql  # noqa: E402
from pasta_selectors import RandomSelector  # noqa: E402
from pasta_tracking.jsonl import JsonlMetrics  # noqa: E402
from pasta_value.embedded import create_embedded  # noqa: E402
from pasta_value.synthetic import WordWorld  # noqa: E402

CONFIG = IQLConfig(steps=12, batch_size=32, lr=1e-2, save_every=4, log_every=1, target_update=5, seed=4)


class Killed(Exception):
    pass


def _data():
    world = WordWorld(turns=2)
    episodes = world.episodes(RandomSelector(), 20, seed=1)
    return build_transitions(episodes, [t.rewards for t in episodes])


def _model():
    return create_embedded(encoder="words", dim=16, width=16, seed=2)


def _metrics(folder):
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "steps_per_s"} for line in lines]


def _kill_at(step: int):
    def on_step(current: int, metrics: dict) -> None:
        if current == step:
            raise Killed

    return on_step


def test_resume_after_kill_equals_an_uninterrupted_run(tmp_path) -> None:
    """Kill at step 10 (last state: 8), resume: same weights and metrics as a straight run."""
    data = _data()
    straight = train_iql(_model(), data, CONFIG, out=tmp_path / "a", progress=False,
                         metrics_log=JsonlMetrics(tmp_path / "a"))
    with pytest.raises(Killed):
        train_iql(_model(), data, CONFIG, out=tmp_path / "b", progress=False, on_step=_kill_at(10),
                  metrics_log=JsonlMetrics(tmp_path / "b"))
    resumed = train_iql(_model(), data, CONFIG, out=tmp_path / "b", progress=False,
                        metrics_log=JsonlMetrics(tmp_path / "b"))
    assert resumed.step == straight.step == CONFIG.steps
    for (name, a), b in zip(straight.model.module.state_dict().items(), resumed.model.module.state_dict().values()):
        assert torch.equal(a, b), name
    for a, b in zip(straight.target.state_dict().values(), resumed.target.state_dict().values()):
        assert torch.equal(a, b)
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    assert [m["step"] for m in _metrics(tmp_path / "b")] == list(range(1, 13))


def test_resume_refuses_other_settings(tmp_path) -> None:
    """An unfinished run with another learning rate is not silently continued."""
    data = _data()
    with pytest.raises(Killed):
        train_iql(_model(), data, CONFIG, out=tmp_path, progress=False, on_step=_kill_at(5))
    other = IQLConfig(**{**CONFIG.to_dict(), "lr": 0.5})
    with pytest.raises(InvalidValueError, match="lr"):
        train_iql(_model(), data, other, out=tmp_path, progress=False)
    # --no-resume starts over
    assert train_iql(_model(), data, other, out=tmp_path, progress=False, resume=False).step == 12


def test_more_steps_continue_a_finished_run(tmp_path) -> None:
    """Raising --steps continues from the saved step (steps may change on resume)."""
    data = _data()
    train_iql(_model(), data, CONFIG, out=tmp_path, progress=False)
    longer = IQLConfig(**{**CONFIG.to_dict(), "steps": 16})
    seen = []
    train_iql(_model(), data, longer, out=tmp_path, progress=False, on_step=lambda s, m: seen.append(s))
    assert seen == [13, 14, 15, 16]


def test_the_trainer_writes_metrics_only_to_the_log_it_is_given(tmp_path) -> None:
    """No metrics log: no metrics file (``--metrics none``); a log: a record per logged step,
    and a run started over (``resume=False``) starts the file over."""
    data = _data()
    train_iql(_model(), data, CONFIG, out=tmp_path / "none", progress=False)
    assert (tmp_path / "none" / "config.json").is_file() and not (tmp_path / "none" / "metrics.jsonl").exists()

    class Records:
        def __init__(self) -> None:
            self.calls: list = []

        def start(self, step: int) -> None:
            self.calls.append(("start", step))

        def write(self, record: dict) -> None:
            self.calls.append(("write", record["step"], sorted(record)))

    seen = Records()
    train_iql(_model(), data, IQLConfig(**{**CONFIG.to_dict(), "log_every": 5}), progress=False, metrics_log=seen)
    keys = ["grad_norm", "loss_q", "loss_v", "q_mean", "step", "steps_per_s", "target_mean", "v_mean"]
    assert seen.calls == [("start", 0), ("write", 5, keys), ("write", 10, keys), ("write", 12, keys)]
    train_iql(_model(), data, CONFIG, out=tmp_path / "j", progress=False, metrics_log=JsonlMetrics(tmp_path / "j"))
    train_iql(_model(), data, IQLConfig(**{**CONFIG.to_dict(), "steps": 3}), out=tmp_path / "j", progress=False,
              resume=False, metrics_log=JsonlMetrics(tmp_path / "j"))
    assert [m["step"] for m in _metrics(tmp_path / "j")] == [1, 2, 3]


@pytest.mark.slow
def test_cli_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path) -> None:
    """A real kill (SIGKILL) mid-run; running the command again ends where a straight run does."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    from pasta_core.store import write_trajectories

    world = WordWorld(turns=2)
    write_trajectories(tmp_path / "sim.parquet", world.episodes(RandomSelector(), 30, seed=1))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}

    def command(out):
        return [sys.executable, "-m", "pasta_cli", "value", "train", "--data", str(tmp_path / "sim.parquet"),
                "--out", str(out), "--steps", "600", "--save-every", "25", "--batch-size", "32",
                "--model-option", "encoder=words", "--model-option", "dim=16", "--model-option", "width=16"]

    subprocess.run(command(tmp_path / "a"), env=env, check=True, capture_output=True, timeout=300)
    process = subprocess.Popen(command(tmp_path / "b"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = tmp_path / "b" / "train-state" / "latest.json"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if latest.is_file() and json.loads(latest.read_text())["step"] >= 50:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads(latest.read_text())["step"] < 600, "the run finished before it could be killed"
    subprocess.run(command(tmp_path / "b"), env=env, check=True, capture_output=True, timeout=300)
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_batches_drawn_ahead_are_the_batches_of_their_steps() -> None:
    """The trainer draws SAMPLE_AHEAD batches at once; each is sample_batch(seed, step), across
    a block's end, after a jump forward (a resume) and after a jump back."""
    from pasta_core.iql import IQLTrainer, sample_batch
    from pasta_core.iql.trainer import SAMPLE_AHEAD

    data = _data()
    trainer = IQLTrainer(_model(), data, CONFIG)
    for step in (0, 1, SAMPLE_AHEAD - 1, SAMPLE_AHEAD, 3 * SAMPLE_AHEAD + 5, 2):
        got, want = trainer._batch(step), sample_batch(data, CONFIG.batch_size, CONFIG.seed, step)
        for name in ("history", "candidate", "reward", "next_history"):
            assert (getattr(got, name) == getattr(want, name)).all(), (step, name)
    assert len(trainer._ahead) <= SAMPLE_AHEAD
