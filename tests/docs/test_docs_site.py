"""The documentation: examples run, the site builds with warnings as errors, nothing
public is undocumented."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SKIP = re.compile(r"<!--\s*test:\s*skip\b(.*?)-->")
BLOCK = re.compile(r"(<!--[^\n]*-->\s*\n)?```python\n(.*?)```", re.S)


def _gen_reference():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "scripts" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "reference" not in p.parts)


def _blocks(page: Path) -> list[tuple[str, bool]]:
    """(code, skipped) for every python block of a page."""
    return [(code, bool(marker and SKIP.search(marker))) for marker, code in BLOCK.findall(page.read_text())]


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_python_examples_run(page, tmp_path, monkeypatch):
    """Every ```python block runs, in order, in one namespace per page (skip marker:
    `<!-- test: skip (reason) -->` on the line before, for blocks that need keys or weights)."""
    blocks = [code for code, skipped in _blocks(page) if not skipped]
    if not blocks:
        pytest.skip("no runnable python examples on this page")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for code in blocks:
        exec(compile(code, str(page), "exec"), namespace)


def test_every_skip_marker_gives_a_reason():
    for page in _pages():
        for reason in SKIP.findall(page.read_text()):
            assert reason.strip(" ():"), f"{page}: a skipped example needs a reason"


def _missing_help(group: click.Command, prefix: str) -> list[str]:
    """The commands under ``group`` (nested groups included) without help text, and their
    visible options without help text."""
    missing = []
    for path, command in _gen_reference()._commands(group, prefix):
        if not (command.help or "").strip():
            missing.append(f"`{path}`")
        missing += [f"`{path} {'/'.join(param.opts)}`" for param in command.params
                    if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()]
    return missing


def test_every_cli_command_and_option_has_help():
    """Every command of `pasta` and of every installed plugin's group, and each of their
    options, says what it does in `--help` (and in the CLI reference)."""
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    paths = {path for path, _ in _gen_reference()._commands(cli, "pasta")}
    assert {"pasta run", "pasta serve", "pasta simulate", "pasta value train", "pasta planted pairs"} <= paths
    missing = _missing_help(cli, "pasta")
    assert not missing, "no help text: " + ", ".join(missing)


def test_the_help_check_finds_what_is_missing():
    """The check above walks nested groups and finds an option or a command without help."""

    @click.group(help="top")
    def top() -> None: ...

    @top.group(help="a group")
    def inner() -> None: ...

    @inner.command(help="documented")
    @click.option("--bare", default=1, show_default=True)
    @click.option("--flag", is_flag=True)
    @click.option("--fine", help="says what it does")
    def leaf(bare: int, flag: bool, fine: str) -> None: ...

    @inner.command()
    def silent() -> None: ...

    assert _missing_help(top, "x") == ["`x inner leaf --bare`", "`x inner leaf --flag`", "`x inner silent`"]


def test_every_protocol_method_has_a_docstring():
    reference = _gen_reference()
    protocols = reference.protocol_classes()
    assert {"CandidateGenerator", "Selector", "T2IModel", "UserModel", "Aggregator"} <= {n for n, _ in protocols}
    for name, cls in protocols:
        assert (cls.__doc__ or "").strip(), f"{name} has no docstring"
        for member, value in cls.__dict__.items():
            fn = value.fget if isinstance(value, property) else value
            if (not member.startswith("_") or member == "__call__") and callable(fn):
                assert (fn.__doc__ or "").strip(), f"{name}.{member} has no docstring"


def test_every_nav_page_exists():
    nav = re.findall(r":\s*([\w/\-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    missing = [p for p in nav if not (DOCS / p).is_file() and not p.startswith("reference/")]
    assert not missing, f"mkdocs.yml lists missing pages: {missing}"


@pytest.mark.slow
def test_site_builds_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "hooks" / "index.html").is_file()
