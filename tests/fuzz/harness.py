"""Running ``pasta`` in-process the way a user's shell does, and the contract of a refusal.

:func:`run_pasta` calls :func:`pasta_cli.main` (the console script) with ``argv`` and
the given stdin bytes, and returns its exit code and what it wrote on stderr. An exception
that escapes ``main`` is a failure of the contract, kept in :attr:`Result.escaped`.

:func:`assert_refused` is the contract of issue 22 for every bad input: a non-zero exit,
exactly one line on stderr (starting ``Error:``), no traceback, no "unexpected" error (the
boundary's wording for a bug), and no file that existed before changed or removed.
Progress bars (tqdm, on stderr) are not lines of the message and are dropped first.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import sys
from pathlib import Path
from typing import Any

import attrs

#: A tqdm progress bar as it appears on stderr ("desc: 3/5 [00:01<00:02, 2.1it/s]").
_PROGRESS = re.compile(r"[^\r\n]*\[\d\d:\d\d[^\]\r\n]*\]")


@attrs.frozen
class Result:
    code: Any
    stderr: str
    escaped: BaseException | None = None

    @property
    def lines(self) -> list[str]:
        """The lines of stderr once progress bars are taken out."""
        text = _PROGRESS.sub("", self.stderr)
        return [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]


def run_pasta(argv: list[str], stdin: bytes | None = None, errors: str = "strict") -> Result:
    """``pasta ARGV`` in this process, with ``stdin`` decoded as UTF-8 with ``errors``."""
    from pasta_cli import main

    err = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8", errors=errors)
    code: Any = None
    escaped = None
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                main(list(argv))
            except SystemExit as stop:
                code = stop.code
            except BaseException as exc:  # noqa: BLE001 - the contract says none may escape
                escaped = exc
    finally:
        sys.stdin = old_stdin
    return Result(code, err.getvalue(), escaped)


def snapshot(folder: Path) -> dict[Path, str]:
    """Every file under ``folder`` with a digest of its bytes."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def changed(before: dict[Path, str]) -> list[str]:
    """The files of ``before`` now changed or gone."""
    out = []
    for path, digest in before.items():
        if not path.is_file():
            out.append(f"{path} (removed)")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            out.append(f"{path} (changed)")
    return out


def assert_refused(result: Result, before: dict[Path, str], mentions: tuple[str, ...] = ()) -> str:
    """The contract (module docstring); returns the one line. ``mentions``: texts the line
    must hold (a file's name, an option)."""
    assert result.escaped is None, f"an exception escaped main(): {result.escaped!r}"
    assert result.code not in (0, None), f"exit code {result.code!r}; stderr: {result.stderr!r}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.lines
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {lines}"
    line = lines[0]
    assert line.startswith("Error: "), line
    assert not line.startswith("Error: unexpected "), line
    for text in mentions:
        assert text in line, f"{text!r} not in {line!r}"
    assert not changed(before), changed(before)
    return line
