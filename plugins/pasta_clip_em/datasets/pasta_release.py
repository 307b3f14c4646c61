"""A tolerant reader for the released PASTA data (human sessions and simulated
trajectories). Its file schema is not published anywhere reachable from here, so this
reader *assumes* one row per turn and maps columns by name (see ``SYNONYMS``); it reports
every column it could not map, and every row it could not use. The test fixture built in
tests/user_model/ is marked as an assumed schema. Files: ``.parquet``, ``.jsonl`` or
``.json`` (a list of row objects); list-valued cells may also be JSON strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pasta_clip_em.datasets.report import DatasetError, ReadReport
from pasta_clip_em.datasets.trajectories import resolve_images
from pasta_core.types import Candidate, Trajectory, Turn

SYNONYMS: dict[str, tuple[str, ...]] = {
    "session_id": ("session_id", "sessionid", "session", "episode_id", "trajectory_id", "conversation_id"),
    "turn": ("turn", "turn_index", "turn_id", "turn_number", "step", "round"),
    "initial_prompt": ("initial_prompt", "user_prompt", "initial_user_prompt", "original_prompt", "prompt"),
    "slate": ("slate", "slate_prompts", "prompts", "expanded_prompts", "selected_prompts", "shown_prompts"),
    "choice": ("choice", "chosen", "chosen_index", "selected", "selected_index", "user_choice", "choice_index"),
    "image_refs": ("image_refs", "images", "image_paths", "image_files", "image_path"),
    "critique": ("critique", "feedback", "comment", "user_critique"),
    "user_type": ("user_type", "type", "cluster", "user_cluster"),
    "satisfaction": ("satisfaction", "satisfaction_scores", "ratings", "scores"),
    "comparison": ("comparison", "compare", "better_same_worse", "compared_to_previous"),
}
REQUIRED = ("session_id", "initial_prompt", "slate", "choice", "image_refs")


def _normal(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def map_columns(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """(our field -> their column, their columns left unmapped)."""
    by_normal = {_normal(n): n for n in names}
    mapping: dict[str, str] = {}
    for field, candidates in SYNONYMS.items():
        for candidate in candidates:
            if candidate in by_normal and by_normal[candidate] not in mapping.values():
                mapping[field] = by_normal[candidate]
                break
    unmapped = [n for n in names if n not in mapping.values()]
    return mapping, unmapped


def _rows(file: Path) -> list[dict[str, Any]]:
    if file.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(file).to_pylist()
    text = file.read_text()
    if file.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    return data if isinstance(data, list) else data.get("rows", data.get("data", []))


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _turn(row: dict[str, Any], m: dict[str, str], one_based: bool) -> Turn:
    slate_texts = [str(s) for s in _cell(row[m["slate"]])]
    slate = [Candidate(text, f"column {j + 1}") for j, text in enumerate(slate_texts)]
    refs = _cell(row[m["image_refs"]])
    refs = [[r] if isinstance(r, str) else list(r) for r in refs]
    get = lambda f: _cell(row.get(m[f])) if f in m else None  # noqa: E731
    comparison = get("comparison")
    return Turn(
        candidates=slate, slate=slate, choice=int(row[m["choice"]]) - (1 if one_based else 0),
        critique=get("critique") or None, image_refs=refs,
        satisfaction=get("satisfaction") or None,
        comparison=str(comparison).lower() if comparison in ("better", "same", "worse", "Better", "Same", "Worse") else None,
    )


def read_pasta_release(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                       report: ReadReport | None = None, strict: bool = False) -> Iterator[Trajectory]:
    """Sessions from the released PASTA data, under the assumed schema above."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    report = report if report is not None else ReadReport("pasta release", strict)
    files = []
    for entry in map(Path, paths):
        files += sorted(p for ext in ("parquet", "jsonl", "json") for p in entry.rglob(f"*.{ext}")) if entry.is_dir() else [entry]
    for file in files:
        if not file.is_file():
            raise DatasetError(f"no PASTA data file at {file}")
        yield from _read_file(file, report)


def _read_file(file: Path, report: ReadReport) -> Iterator[Trajectory]:
    rows = _rows(file)
    if not rows:
        return
    mapping, unmapped = map_columns(rows[0].keys())
    report.unmapped = sorted(set(report.unmapped) | set(unmapped))
    missing = [f for f in REQUIRED if f not in mapping]
    if missing:
        raise DatasetError(f"{file}: cannot find column(s) for {missing}; columns: {sorted(rows[0])}")
    choices = [row.get(mapping["choice"]) for row in rows]
    one_based = all(isinstance(c, int) and c >= 1 for c in choices)
    sessions: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for n, row in enumerate(rows):
        sessions.setdefault(str(row.get(mapping["session_id"])), []).append((n, row))
    for session, items in sessions.items():
        trajectory = _session(file, session, items, mapping, one_based, report)
        if trajectory is not None:
            report.read += 1
            yield trajectory


def _session(file: Path, session: str, items: list[tuple[int, dict[str, Any]]], m: dict[str, str],
             one_based: bool, report: ReadReport) -> Trajectory | None:
    if "turn" in m:
        items = sorted(items, key=lambda item: float(item[1].get(m["turn"]) or 0))
    turns = []
    for n, row in items:
        try:
            turns.append(_turn(row, m, one_based))
        except Exception as exc:  # any malformed cell makes the row unusable
            report.problem(f"{file}:row {n}", f"unusable row ({type(exc).__name__}: {exc})")
            return None
    first = items[0][1]
    user_type = first.get(m["user_type"]) if "user_type" in m else None
    trajectory = Trajectory(
        session_id=session, initial_prompt=str(first[m["initial_prompt"]]), turns=turns,
        user_type=int(user_type) if isinstance(user_type, (int, float)) else None,
        metadata={"source": str(file)},
    )
    return resolve_images(trajectory, file.parent, report, f"{file}:session {session}")
