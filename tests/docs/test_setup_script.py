"""scripts/setup.sh, through its dry run: it says what each step does, installs the CPU
build of torch first when asked (PASTA_TORCH=cpu), and keeps CI's default install."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "setup.sh"


def dry_run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PASTA_")}
    environment.update(PASTA_SETUP_DRY_RUN="1", PASTA_VENV=str(tmp_path / "venv"), **env)
    return subprocess.run(["bash", str(SETUP), *args], capture_output=True, text=True, env=environment, timeout=60)


def commands(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line[2:] for line in result.stdout.splitlines() if line.startswith("+ ")]


def test_the_default_install_is_the_core_and_says_so(tmp_path):
    result = dry_run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "==> [setup +0s] creating the virtual environment" in result.stdout
    assert "installing PASTA's core" in result.stdout
    assert [c.split(" -m ")[-1] for c in commands(result)] == ["venv " + str(tmp_path / "venv"),
                                                                "pip install --progress-bar off -e ."]


def test_ci_test_install_is_unchanged_without_pasta_torch(tmp_path):
    """`bash scripts/setup.sh test` (CI) resolves torch with everything else, as before."""
    result = dry_run(tmp_path, "test")
    assert result.returncode == 0, result.stderr
    pips = [c for c in commands(result) if " pip install " in c]
    assert pips[0].endswith("pip install --progress-bar off -e .[all,test,docs]")
    assert pips[1].endswith("pip install --progress-bar off -e contrib/pasta-example-plugin")
    assert not any("torch==" in c for c in pips)
    assert "several minutes" in result.stdout


def test_cpu_torch_comes_first_from_the_cpu_index(tmp_path):
    result = dry_run(tmp_path, "test", PASTA_TORCH="cpu")
    assert result.returncode == 0, result.stderr
    pips = [c for c in commands(result) if " pip install " in c]
    assert pips[0].endswith("--no-deps --retries 1 --extra-index-url https://download.pytorch.org/whl/cpu "
                            "torch==2.13.0+cpu torchvision==0.28.0+cpu")
    assert pips[1].endswith("-e .[all,test,docs]")
    # Extras without open_clip need no torchvision; a folder of wheels is searched with --find-links.
    train = [c for c in commands(dry_run(tmp_path, "train,web", PASTA_TORCH="cpu", PASTA_TORCH_INDEX=str(tmp_path)))
             if " pip install " in c]
    assert train[0].endswith(f"--find-links {tmp_path} torch==2.13.0+cpu") and train[1].endswith("-e .[train,web]")
    # The core alone has no torch to install.
    core = dry_run(tmp_path, PASTA_TORCH="cpu")
    assert not any("torch==" in c for c in commands(core))


def test_bad_settings_are_one_line_errors(tmp_path):
    for args, env, words in (([], {"PASTA_TORCH": "gpu"}, "PASTA_TORCH"), (["x;y"], {}, "list of extras")):
        result = dry_run(tmp_path, *args, **env)
        assert result.returncode == 2 and words in result.stderr and len(result.stderr.splitlines()) == 1


def test_the_readme_states_the_settings_the_script_reads():
    settings = set(re.findall(r"\b(PASTA_[A-Z_]+)=?\$?\{?", SETUP.read_text())) - {"PASTA_SETUP_DRY_RUN"}
    documented = (ROOT / "README.md").read_text() + (ROOT / "docs" / "setup.md").read_text()
    assert {"PASTA_TORCH", "PASTA_TORCH_INDEX", "PASTA_VENV"} <= settings
    assert not [s for s in settings if s not in documented]
