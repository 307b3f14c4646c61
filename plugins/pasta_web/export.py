"""``pasta sessions export``: the web app's sessions as trajectory Parquet.

Each session becomes one trajectory (docs/data-format.md) with the rater answers of the
evaluation phase: ``satisfaction`` and ``comparison`` on every turn, and in the metadata
the re-confirmed preferred column and the reason per turn, the overall score, the study
arm and a pseudonymous rater id. Images are copied beside the Parquet file
(``<session id>/images/...``) so ``image_refs`` resolve relative to it, as the user-model
and IQL trainers expect; ``reward`` is left empty for them to label.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError
from pasta_core.folder import SessionFolder
from pasta_core.store import write_trajectories
from pasta_core.types import Trajectory, Turn
from pasta_web.db import SessionRow, TurnRow, WebStore, sqlite_path
from pasta_web.flow import TurnEvaluation

EXPORT_FILE = "trajectories.parquet"


def rater_id(owner: str) -> str:
    """A stable pseudonym of a visitor (a hash of the stored hash: not the cookie)."""
    return hashlib.sha256(f"pasta-rater:{owner}".encode()).hexdigest()[:16]


def _turn(row: TurnRow, evaluation: TurnEvaluation | None, refs: list[list[str]]) -> Turn:
    satisfaction = None
    if evaluation and len(evaluation.satisfaction) == len(row.slate) and None not in evaluation.satisfaction:
        satisfaction = evaluation.satisfaction
    return attrs.evolve(
        row.as_turn(),
        image_refs=refs,
        satisfaction=satisfaction,
        comparison=evaluation.comparison if evaluation else None,
    )


def _metadata(session: SessionRow, evaluations: dict[int, TurnEvaluation], beliefs: list[Any]) -> dict[str, Any]:
    arm = session.arm_spec
    return {
        "source": "pasta-web",
        "arm": session.arm,
        "components": {
            kind: {"name": arm[kind], "options": arm[f"{kind}_options"]} for kind in ("generator", "selector", "t2i")
        },
        "seed": session.seed,
        "config": session.config,
        "phase": session.phase,
        "rater": rater_id(session.owner),
        "overall": session.overall,
        "evaluation": [
            {"turn": e.turn, "preferred": e.preferred, "reason": e.reason,
             "satisfaction_partial": list(e.satisfaction)}
            for e in sorted(evaluations.values(), key=lambda e: e.turn)
        ],
        "beliefs": [{"clicks": clicks, "posterior": posterior} for clicks, posterior in beliefs],
        "completion_code": session.completion_code,
        "created": session.created,
        "updated": session.updated,
    }


def session_trajectory(store: WebStore, session: SessionRow, out: Path | None, images: bool = True) -> Trajectory | None:
    """One session as a trajectory (None before its first click); with ``out``, its images
    are copied under ``out/<session id>/``."""
    turns = store.turns(session.id)
    if not turns:
        return None
    evaluations = {e.turn: e for e in store.evaluations(session.id)}
    records = []
    for row in turns:
        refs = [[f"{session.id}/{ref}" for ref in column] for column in row.image_refs]
        if out is not None and images:
            _copy_images(SessionFolder(session.folder), SessionFolder(out / session.id), row.image_refs)
        records.append(_turn(row, evaluations.get(row.turn), refs))
    return Trajectory(
        session_id=session.id,
        initial_prompt=session.initial_prompt,
        turns=records,
        metadata=_metadata(session, evaluations, list(store.beliefs(session.id))),
    )


def _copy_images(source: SessionFolder, target: SessionFolder, refs: list[list[str]]) -> None:
    """Copy the recorded images to the same places under ``target`` (the session folder
    resolves each reference and refuses one that leaves it)."""
    for ref in (r for column in refs for r in column):
        src = source.inside(ref)
        if src.is_file():  # a missing file is re-rendered from its seed by readers that need it
            dst = target.inside(ref)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)


def iter_trajectories(store: WebStore, out: Path | None = None, finished_only: bool = False,
                      images: bool = True) -> Iterator[Trajectory]:
    for session in store.sessions():
        if finished_only and session.phase != "done":
            continue
        trajectory = session_trajectory(store, session, out, images)
        if trajectory is not None:
            yield trajectory


def export_sessions(db: str | Path, out: str | Path, finished_only: bool = False, images: bool = True) -> tuple[Path, int]:
    """Write every session (with at least one click) to ``out/trajectories.parquet``.
    ``db`` must be a PASTA database (only read: its contents are never changed)."""
    if not sqlite_path(str(db)).is_file():
        raise InvalidValueError(f"no database at {db}: pass the --db that 'pasta serve' used")
    store = WebStore(db, create=False)  # refuses a file that is not a PASTA database
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        trajectories = list(iter_trajectories(store, out, finished_only, images))
    finally:
        store.close()
    return write_trajectories(out / EXPORT_FILE, trajectories), len(trajectories)
