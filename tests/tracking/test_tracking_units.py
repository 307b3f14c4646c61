"""pasta_tracking's pieces on their own: --metrics parsing and sinks, the pace estimate,
the loss-curve plot, --config files, the log lines and --device auto."""

from __future__ import annotations

import json
import logging
import sys
import types

import click
import pytest
from click.testing import CliRunner

from pasta_core.errors import InvalidValueError, MissingDependencyError
from pasta_tracking.logs import command_logs
from pasta_tracking.pace import Pace, duration
from pasta_tracking.runconfig import (
    RUN_CONFIG,
    config_option,
    effective_settings,
    save_run_config,
    to_toml,
)
from pasta_tracking.sinks import default_tracking_uri, open_sinks, parse_metrics


def test_parse_metrics_accepts_lists_and_refuses_unknown_names() -> None:
    assert parse_metrics("jsonl, TensorBoard,jsonl") == ("jsonl", "tensorboard")
    assert parse_metrics("") == ("none",)
    with pytest.raises(InvalidValueError, match="unknown --metrics neptune"):
        parse_metrics("jsonl,neptune")
    with pytest.raises(InvalidValueError, match="none cannot be combined"):
        parse_metrics("none,wandb")


def test_tensorboard_sink_writes_readable_scalars(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (sink,) = open_sinks(["jsonl", "tensorboard"], tmp_path, "IQL")
    for step in (10, 20):
        sink.log(step, {"loss_q": step / 10, "loss_v": 0.5})
    sink.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["IQL/loss_q", "IQL/loss_v"]
    assert [(e.step, e.value) for e in events.Scalars("IQL/loss_q")] == [(10, 1.0), (20, 2.0)]


def test_a_missing_backend_names_its_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pasta-t2i\[wandb\]"):
        open_sinks(["wandb"], tmp_path, "EM")


def test_wandb_sink_starts_logs_and_finishes_a_run(tmp_path, monkeypatch) -> None:
    calls = []

    class Run:
        def log(self, metrics, step):
            calls.append(("log", step, metrics))

        def finish(self):
            calls.append(("finish",))

    def init(**kw):
        calls.append(("init", kw))
        return Run()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    monkeypatch.setenv("WANDB_PROJECT", "mine")
    (sink,) = open_sinks(["wandb"], tmp_path, "IQL", {"steps": 20})
    sink.log(10, {"loss_q": 1.5})
    sink.close()
    assert calls[0] == ("init", {"project": "mine", "name": "IQL", "dir": str(tmp_path), "config": {"steps": 20}})
    assert calls[1:] == [("log", 10, {"loss_q": 1.5}), ("finish",)]


def test_mlflow_sink_logs_params_and_metrics_under_the_run_folder(tmp_path, monkeypatch) -> None:
    calls = []
    fake = types.SimpleNamespace(
        set_tracking_uri=lambda uri: calls.append(("uri", uri)), get_tracking_uri=lambda: calls[0][1],
        start_run=lambda run_name: calls.append(("start", run_name)),
        log_params=lambda params: calls.append(("params", params)),
        log_metrics=lambda metrics, step: calls.append(("metrics", step, metrics)),
        end_run=lambda: calls.append(("end",)),
    )
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (sink,) = open_sinks(["mlflow"], tmp_path, "EM", {"steps": 20, "data": ["a", "b"]})
    sink.log(5, {"loss": 2})
    sink.close()
    assert calls == [("uri", default_tracking_uri(tmp_path)), ("start", "EM"),
                     ("params", {"steps": "20", "data": "['a', 'b']"}), ("metrics", 5, {"loss": 2.0}), ("end",)]


def test_pace_times_the_steps_after_the_first_and_estimates_the_rest(caplog) -> None:
    # the clock after steps 1..7: step 1's own time (set-up) is never in the timing
    ticks = iter([100.0, 100.5, 101.0, 101.5, 102.0, 102.5, 180.0])
    pace = Pace(total=1000, what="IQL", min_steps=5, min_seconds=2.0, clock=lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger="pasta_tracking"):
        for step in range(1, 6):
            pace(step)
        assert pace.estimate is None  # 4 steps timed: fewer than min_steps
        pace(6)
        pace(7)  # reported once only
    assert pace.estimate == (0.5, 0.5 * (1000 - 6))
    (record,) = [r for r in caplog.records if r.name == "pasta_tracking.pace"]
    assert "IQL: 500 ms per step (timed over 5 steps); 1000 steps take about 8 min 20 s" in record.getMessage()


@pytest.mark.parametrize(("seconds", "text"), [(0.0123, "12 ms"), (2.79, "2.8 s"), (42.2, "42 s"), (200, "3 min 20 s"),
                                               (7500, "2 h 05 min")])
def test_duration(seconds, text) -> None:
    assert duration(seconds) == text


def test_loss_curve_is_drawn_from_metrics_jsonl(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    from pasta_tracking.plot import plot_run, read_series

    lines = [json.dumps({"step": s, "loss_q": 1 / s, "loss_v": 0.1, "grad_norm": 3}) for s in range(10, 210, 10)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines[:5] + ["{cut short", "[1]"] + lines[5:]) + "\n")
    series = read_series(tmp_path / "metrics.jsonl")
    assert sorted(series) == ["loss_q", "loss_v"] and len(series["loss_q"][0]) == 20
    path = plot_run(tmp_path, "IQL")
    assert path == tmp_path / "loss_curve.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.height > image.width / 2  # two panels, one per loss


def test_no_loss_curve_without_metrics(tmp_path, caplog) -> None:
    from pasta_tracking.plot import plot_run

    with caplog.at_level(logging.WARNING, logger="pasta_tracking"):
        assert plot_run(tmp_path, "EM") is None
    assert "no metrics.jsonl" in caplog.text


@click.command()
@click.option("--data", "paths", multiple=True, required=True)
@click.option("--steps", type=int, default=10)
@click.option("--token-level", is_flag=True)
@click.option("--lr", type=float, default=None)
@config_option
@click.pass_context
def _command(ctx: click.Context, **kw) -> None:
    click.echo(json.dumps(effective_settings(ctx)))


def test_config_file_fills_options_and_flags_override_it(tmp_path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('data = "a.parquet"\nsteps = 50\ntoken-level = true\n')
    result = CliRunner().invoke(_command, ["--config", str(config), "--steps", "7"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"data": ["a.parquet"], "steps": 7, "token-level": True}


def test_config_file_with_an_unknown_key_is_refused_naming_the_known_ones(tmp_path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('data = ["a"]\nstep = 5\n')
    result = CliRunner().invoke(_command, ["--config", str(config)])
    assert result.exit_code == 2
    assert "unknown keys step; known: data, lr, steps, token-level" in result.output
    config.write_text("data = [")
    assert "is not valid TOML" in CliRunner().invoke(_command, ["--config", str(config)]).output


def test_saved_run_config_reads_back_as_the_same_settings(tmp_path) -> None:
    settings = {"data": ["a b.parquet", 'quote"d'], "steps": 7, "token_level": False, "lr": 1e-05,
                "clip": float("inf")}
    assert 'data = ["a b.parquet", "quote\\"d"]' in to_toml(settings)
    path = save_run_config(tmp_path, {k: v for k, v in settings.items() if k != "clip"}, "value train")
    assert path == tmp_path / RUN_CONFIG and "pasta value train --config" in path.read_text()
    result = CliRunner().invoke(_command, ["--config", str(path)])
    assert json.loads(result.output) == {"data": ["a b.parquet", 'quote"d'], "steps": 7, "token-level": False,
                                         "lr": 1e-05}


@click.group()
@click.option("--log-level", default=None)
def _root(log_level) -> None:
    pass


@_root.command("logs")
def _logs() -> None:
    with command_logs():
        logging.getLogger("pasta_value.cli").info("an info line")
        logging.getLogger("pasta_value.cli").warning("a warning")
        logging.getLogger("pasta_value.cli").debug("a debug line")


def test_command_logs_follow_the_global_log_level() -> None:
    result = CliRunner().invoke(_root, ["logs"])
    assert result.output.splitlines() == ["an info line", "warning: a warning"]
    result = CliRunner().invoke(_root, ["--log-level", "warning", "logs"])
    assert result.output.splitlines() == ["warning: a warning"]
    assert logging.getLogger("pasta_value").handlers == []  # restored after the command


def test_device_auto_is_cuda_only_when_torch_sees_one(monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    from pasta_tracking.device import resolve_device

    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"


def test_tracker_feeds_sinks_every_log_every_steps_and_only_rank_0_tracks(tmp_path, monkeypatch) -> None:
    from pasta_tracking.run import track_run

    seen = []

    class Sink:
        def log(self, step, metrics):
            seen.append((step, dict(metrics)))

        def close(self):
            seen.append("closed")

    monkeypatch.setattr("pasta_tracking.run.open_sinks", lambda *args: [Sink()])
    with track_run(tmp_path, "IQL", ("jsonl",), steps=25, log_every=10, plot=False) as tracker:
        for step in range(1, 26):
            tracker.on_step(step, {"loss_q": step})
    assert seen == [(10, {"loss_q": 10}), (20, {"loss_q": 20}), (25, {"loss_q": 25}), "closed"]
    monkeypatch.setenv("RANK", "1")
    with track_run(tmp_path, "IQL", ("jsonl",), steps=25, log_every=10) as tracker:
        tracker.on_step(10, {"loss_q": 1.0})
    assert tracker.sinks == [] and tracker.pace is None and len(seen) == 4
