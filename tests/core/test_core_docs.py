"""The README's library example runs as written; optional extras are named when missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pasta_core.errors import MissingDependencyError, require

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_library_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (block,) = _python_blocks((ROOT / "README.md").read_text())
    exec(compile(block, "README.md", "exec"), {})
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "trajectory.parquet").is_file()
    assert "runs/" in capsys.readouterr().out


def test_missing_optional_dependency_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r"pip install 'pasta-t2i\[sdxl\]'"):
        require("no_such_module_for_pasta", "sdxl", "diffusers")
    assert require("json", "none").dumps([1]) == "[1]"
