"""pasta bench planted's progress lines go through logging at the global --log-level: shown
at info (the default), gone at warning; the report's paths stay on stdout."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner


def _fake_bench(files: list[Any], out: str, **kw: Any) -> dict[str, Any]:
    """run_bench's stand-in: two real stages (one fails), no training."""
    from pathlib import Path

    from pasta_planted.bench import Stages

    stages = Stages()
    stages.figures, stages.out, stages.progress, stages.label = {"stages": {}}, Path(out), True, " world-01"
    stages.stage("split", lambda: None)
    stages.stage("user-model", lambda: 1 / 0)
    return {"files": {"report": f"{out}/report.md", "json": f"{out}/figures.json", "plot": f"{out}/figures.png"}}


@pytest.mark.parametrize("level", [None, "info", "warning"])
def test_bench_progress_lines_follow_the_log_level(tmp_path, monkeypatch, level) -> None:
    import pasta_planted.bench
    from pasta_cli import cli, load_plugin_commands

    monkeypatch.setattr(pasta_planted.bench, "run_bench", _fake_bench)
    load_plugin_commands()
    args = ([] if level is None else ["--log-level", level]) + ["bench", "planted", "--quick", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    shown = level != "warning"
    assert ("[bench world-01] split: ok in " in result.stderr) == shown
    assert ("[bench world-01] user-model: failed in " in result.stderr) == shown
    assert "ZeroDivisionError" in result.stderr if shown else result.stderr == ""
    assert result.stdout == f"report: {tmp_path}/report.md\nfigures: {tmp_path}/figures.json\nplot: {tmp_path}/figures.png\n"
