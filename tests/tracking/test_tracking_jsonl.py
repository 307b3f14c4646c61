"""The ``metrics.jsonl`` log (pasta_tracking.jsonl): what a resumed run cuts back."""

from __future__ import annotations

import json

from pasta_tracking.jsonl import JsonlMetrics, truncate_metrics


def test_metrics_are_cut_back_to_a_step_and_a_broken_line_is_dropped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in (2, 4, 6, 8)]
    path.write_text("\n".join(lines) + '\n{"step": 10, "lo')
    truncate_metrics(path, 4)
    assert path.read_text() == lines[0] + "\n" + lines[1] + "\n"
    before = path.stat().st_mtime_ns
    truncate_metrics(path, 4)  # nothing to cut: not rewritten
    assert path.stat().st_mtime_ns == before
    truncate_metrics(tmp_path / "none.jsonl", 3)  # no log yet: nothing to do
    assert not (tmp_path / "none.jsonl").exists()


def test_a_resumed_log_keeps_the_earlier_steps_and_a_new_one_starts_empty(tmp_path):
    log = JsonlMetrics(tmp_path)
    log.start(0)
    for step in (1, 2, 3):
        log.write({"step": step, "loss": 0.5})
    JsonlMetrics(tmp_path).start(2)
    assert [json.loads(line)["step"] for line in log.path.read_text().splitlines()] == [1, 2]
    JsonlMetrics(tmp_path).start(0)
    assert not log.path.exists()
