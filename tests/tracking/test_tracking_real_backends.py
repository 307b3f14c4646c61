"""The wandb and mlflow sinks with the real libraries, fully offline (wandb in offline mode,
MLflow on a local store in tmp_path): the logged values read back from what they wrote.
Skipped where the packages are not installed (the fakes in test_tracking_units.py still run)."""

from __future__ import annotations

import json
import struct

import pytest

from pasta_tracking.sinks import open_sinks

STEPS = {10: {"loss_q": 0.5, "loss_v": 0.25}, 20: {"loss_q": 0.375, "loss_v": 0.125}}


def _wandb_records(path):
    """The protobuf records of an offline run's ``.wandb`` file: a 7-byte header, then
    LevelDB-log records (crc32, length, type: 1 full, 2 first, 3 middle, 4 last) in 32 KiB
    blocks."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    pos, parts, records = 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 or pos + 7 + length > len(data):  # the end, or a record still being written
            break
        parts += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            records.append(record)
            parts = b""
    return records


def _offline_wandb(monkeypatch, tmp_path) -> None:
    """wandb offline, every folder of its own in ``tmp_path``, no login."""
    for key, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(tmp_path),
                       "WANDB_CACHE_DIR": str(tmp_path / "cache"), "WANDB_CONFIG_DIR": str(tmp_path / "config"),
                       "WANDB_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)


def _history(path) -> list[dict]:
    """The logged rows of an offline run (name -> value, with ``_step``)."""
    return [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
            for r in _finished(path) if r.WhichOneof("record_type") == "history"]


def _finished(path, seconds: float = 20.0):
    """The records of an offline run once its exit record is on disk: wandb's service
    process may still be writing the file when ``run.finish()`` returns."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        records = _wandb_records(path)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_wandb_offline_run_holds_the_logged_metrics_and_config(tmp_path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    _offline_wandb(monkeypatch, tmp_path)
    monkeypatch.setenv("WANDB_PROJECT", "pasta-test")
    (sink,) = open_sinks(["jsonl", "wandb"], tmp_path / "out", "IQL", {"steps": 20, "lr": 0.01})
    for step, metrics in STEPS.items():
        sink.log(step, metrics)
    sink.close()
    (run_file,) = (tmp_path / "out" / "wandb").glob("offline-run-*/run-*.wandb")
    records = _finished(run_file)
    assert [{k: h[k] for k in ("_step", "loss_q", "loss_v")} for h in _history(run_file)] == [
        {"_step": step, **metrics} for step, metrics in STEPS.items()]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"][:1]
    assert run.display_name == "IQL" and run.project == "pasta-test"
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["steps"] == 20 and config["lr"] == 0.01


def test_mlflow_run_on_a_local_store_holds_the_logged_metrics_and_params(tmp_path, monkeypatch) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this
    (sink,) = open_sinks(["mlflow"], tmp_path / "out", "EM", {"steps": 20, "data": ["a", "b"]})
    run_id = sink.run.info.run_id
    for step, metrics in STEPS.items():
        sink.log(step, metrics)
    sink.close()
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.run_name == "EM" and run.info.status == "FINISHED"
    assert run.data.params == {"steps": "20", "data": "['a', 'b']"}
    for key in ("loss_q", "loss_v"):
        assert [(m.step, m.value) for m in client.get_metric_history(run_id, key)] == [
            (step, metrics[key]) for step, metrics in STEPS.items()]


def test_a_store_mlflow_refuses_is_one_line_naming_it(tmp_path, monkeypatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    from pasta_core.errors import InvalidValueError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unknownscheme://nowhere")
    with pytest.raises(InvalidValueError) as caught:
        open_sinks(["mlflow"], tmp_path, "EM")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("mlflow cannot open a run at unknownscheme://nowhere (")
    assert "MLFLOW_TRACKING_URI" in message and mlflow.active_run() is None


def test_value_train_feeds_real_wandb_and_mlflow_the_values_of_metrics_jsonl(cli_runner, tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from pasta_core.store import write_trajectories
    from pasta_selectors import RandomSelector
    from pasta_value.synthetic import WordWorld

    _offline_wandb(monkeypatch, tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this
    data = tmp_path / "sim.parquet"
    write_trajectories(data, WordWorld(turns=2).episodes(RandomSelector(), 8, seed=0))
    out = tmp_path / "value"
    result = cli_runner.invoke(["value", "train", "--data", str(data), "--out", str(out), "--steps", "20",
                                "--batch-size", "8", "--model-option", "encoder=words", "--model-option", "dim=16",
                                "--model-option", "width=16", "--metrics", "jsonl,wandb,mlflow"])
    assert result.exit_code == 0, result.output
    logged = {r["step"]: r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())}
    assert sorted(logged) == [10, 20]
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.run_name == "IQL" and run.data.params["steps"] == "20"
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss_q")] == [
        (step, pytest.approx(logged[step]["loss_q"])) for step in (10, 20)]
    (run_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    assert [(h["_step"], h["loss_q"]) for h in _history(run_file)] == [
        (step, pytest.approx(logged[step]["loss_q"])) for step in (10, 20)]
