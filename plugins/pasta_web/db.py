"""SQLite storage of the web app: every answer is committed the moment it is given.

Why SQLite: it ships with Python, needs no server, is safe across threads with one
guarded connection, and a committed transaction survives a killed process (WAL journal,
``synchronous=FULL``). A study of a few thousand sessions is far below its limits.

Tables: ``sessions`` (owner hash, arm, phase, overall score), ``turns`` (what was shown and
what was clicked, written at the click, and the fallback generator that wrote the
candidates when the session's own failed), ``evaluations`` (the evaluation-phase answers per
turn, written as each one changes) and ``beliefs`` (the belief view's posterior per turn).

A PASTA database carries PASTA's ``application_id`` and its schema version in ``user_version``
(databases written before these were stamped are known by their four tables). Any other
SQLite file is refused before anything is written to it: no table added, the journal mode
untouched (the check reads through a read-only connection).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError
from pasta_core.types import Candidate, Turn
from pasta_web.flow import TurnEvaluation

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    arm TEXT NOT NULL,
    arm_spec TEXT NOT NULL,
    seed INTEGER NOT NULL,
    initial_prompt TEXT NOT NULL,
    folder TEXT NOT NULL,
    config TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT 'interaction',
    overall INTEGER,
    completion_code TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_owner ON sessions(owner);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    turn INTEGER NOT NULL,
    candidates TEXT NOT NULL,
    slate TEXT NOT NULL,
    choice INTEGER NOT NULL,
    critique TEXT,
    seeds TEXT NOT NULL,
    image_refs TEXT NOT NULL,
    created REAL NOT NULL,
    fallback TEXT,
    PRIMARY KEY (session_id, turn)
);
CREATE TABLE IF NOT EXISTS evaluations (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    turn INTEGER NOT NULL,
    preferred INTEGER,
    satisfaction TEXT,
    reason TEXT,
    comparison TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (session_id, turn)
);
CREATE TABLE IF NOT EXISTS beliefs (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    turn INTEGER NOT NULL,
    posterior TEXT NOT NULL,
    PRIMARY KEY (session_id, turn)
);
"""


#: ``PRAGMA application_id`` of a PASTA database (the bytes "PAST").
APPLICATION_ID = 0x50415354
#: ``PRAGMA user_version``: the version of :data:`SCHEMA` (0 in databases written before it was
#: stamped). 2: ``turns.fallback`` (the fallback generator that wrote a turn's candidates);
#: ``pasta serve`` adds it to an older database (:data:`MIGRATIONS`), the export reads one
#: without it (as None) and changes nothing.
SCHEMA_VERSION = 2
#: Columns added since the first schema: (table, column, its definition), added in this order.
MIGRATIONS = (("turns", "fallback", "TEXT"),)
#: The tables of a PASTA database and the columns each must have (any version: the columns
#: of :data:`MIGRATIONS` may be missing).
TABLES = {
    "sessions": {"id", "owner", "arm", "arm_spec", "seed", "initial_prompt", "folder", "config", "phase",
                 "overall", "completion_code", "created", "updated"},
    "turns": {"session_id", "turn", "candidates", "slate", "choice", "critique", "seeds", "image_refs", "created"},
    "evaluations": {"session_id", "turn", "preferred", "satisfaction", "reason", "comparison", "updated"},
    "beliefs": {"session_id", "turn", "posterior"},
}


def check_database(path: Path) -> bool:
    """Whether the SQLite file ``path`` is a PASTA database (True) or an empty one (False,
    a new database may be made in it); anything else raises :class:`InvalidValueError`.
    Reads through a read-only connection: the file is never changed."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InvalidValueError(f"cannot open the database {path}: {exc}") from exc
    try:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        names = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        tables = {name: {c for (c,) in db.execute("SELECT name FROM pragma_table_info(?)", (name,))} for name in names}
    except sqlite3.Error as exc:  # "file is not a database", encrypted, corrupt
        raise InvalidValueError(f"{path} is not an SQLite database ({exc}); pass the --db that 'pasta serve' used") from exc
    finally:
        db.close()
    ours = all(columns <= tables.get(name, set()) for name, columns in TABLES.items())
    if application_id == APPLICATION_ID or (application_id == 0 and ours):
        if version > SCHEMA_VERSION:
            raise InvalidValueError(f"{path} was written by a newer PASTA (schema {version}); upgrade pasta-t2i")
        return True
    if application_id == 0 and version == 0 and not tables:
        return False
    raise InvalidValueError(
        f"{path} is not a PASTA database (no PASTA tables or application id); it was left unchanged. "
        "Pass the --db that 'pasta serve' used, or a new file"
    )


@attrs.frozen
class SessionRow:
    """One web session as stored."""

    id: str
    owner: str
    arm: str
    arm_spec: dict[str, Any]
    seed: int
    initial_prompt: str
    folder: str
    config: dict[str, Any]
    phase: str
    overall: int | None
    completion_code: str | None
    created: float
    updated: float


@attrs.frozen
class TurnRow:
    """One answered turn: what was shown and which column was clicked."""

    session_id: str
    turn: int
    candidates: list[dict[str, str]]
    slate: list[dict[str, str]]
    choice: int
    critique: str | None
    seeds: list[list[int]]
    image_refs: list[list[str]]
    created: float
    fallback: str | None = None  # the fallback generator that wrote the candidates, if one did

    def as_turn(self) -> Turn:
        """The turn as a trajectory records it (no reward or rater answers)."""
        return Turn(
            candidates=[Candidate(**c) for c in self.candidates],
            slate=[Candidate(**c) for c in self.slate],
            choice=self.choice,
            critique=self.critique,
            seeds=self.seeds,
            image_refs=self.image_refs,
            fallback=self.fallback,
        )


def sqlite_path(db: str) -> Path:
    """A plain path or an SQLAlchemy-style URL: ``sqlite:///relative.db`` or
    ``sqlite:////absolute.db``. Other databases are not supported."""
    if "://" in db:
        scheme, _, rest = db.partition("://")
        if scheme != "sqlite" or not rest.startswith("/") or len(rest) < 2:
            raise InvalidValueError(
                f"unsupported database {db!r}: use a file path or sqlite:///path/to/file.db"
            )
        db = rest[1:]
    return Path(db)


class WebStore:
    """The web app's database (one connection guarded by a lock; safe across threads).

    ``create``: make the database if the file is missing or empty (``pasta serve``);
    otherwise (``pasta sessions export``) it must be a PASTA database already, and nothing
    in it is changed. Either way, a file that is not a PASTA database is refused
    (:func:`check_database`) before anything is written to it."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = sqlite_path(str(path))
        exists = self.path.is_file()
        if not exists and not create:
            raise InvalidValueError(f"no database at {self.path}: pass the --db that 'pasta serve' used")
        if exists and not check_database(self.path) and not create:
            raise InvalidValueError(f"{self.path} is an empty database, not one of 'pasta serve'")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if create:
            if self._db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._migrate()
        self._has_fallback = "fallback" in self._columns("turns")

    def _columns(self, table: str) -> set[str]:
        return {c for (c,) in self._db.execute("SELECT name FROM pragma_table_info(?)", (table,))}

    def _migrate(self) -> None:
        """Add the columns of :data:`MIGRATIONS` that an older database lacks (one
        transaction), then stamp it with :data:`SCHEMA_VERSION`."""
        missing = [(t, c, kind) for t, c, kind in MIGRATIONS if c not in self._columns(t)]
        if missing:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table, column, kind in missing:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: tuple[Any, ...], *more: tuple[str, tuple[Any, ...]]) -> None:
        """One transaction (one commit, one sync): ``sql`` with ``args``, then ``more``."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql, args)
                for statement, values in more:
                    self._db.execute(statement, values)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- sessions ---------------------------------------------------------------------------

    def add_session(self, row: SessionRow) -> None:
        self._write(
            "INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.id, row.owner, row.arm, json.dumps(row.arm_spec, sort_keys=True), row.seed,
                row.initial_prompt, row.folder, json.dumps(row.config, sort_keys=True), row.phase,
                row.overall, row.completion_code, row.created, row.updated,
            ),
        )

    def session(self, session_id: str) -> SessionRow | None:
        rows = self._rows("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _session(rows[0]) if rows else None

    def sessions(self, owner: str | None = None) -> list[SessionRow]:
        """All sessions (oldest first), or one owner's."""
        if owner is None:
            rows = self._rows("SELECT * FROM sessions ORDER BY created")
        else:
            rows = self._rows("SELECT * FROM sessions WHERE owner = ? ORDER BY created", (owner,))
        return [_session(r) for r in rows]

    def count_sessions(self, owner: str) -> int:
        return int(self._rows("SELECT COUNT(*) FROM sessions WHERE owner = ?", (owner,))[0][0])

    def set_phase(self, session_id: str, phase: str, completion_code: str | None = None) -> None:
        self._write(
            "UPDATE sessions SET phase = ?, completion_code = COALESCE(?, completion_code), updated = ? WHERE id = ?",
            (phase, completion_code, time.time(), session_id),
        )

    def set_overall(self, session_id: str, score: int) -> None:
        self._write("UPDATE sessions SET overall = ?, updated = ? WHERE id = ?", (score, time.time(), session_id))

    # -- turns ------------------------------------------------------------------------------

    def add_turn(self, row: TurnRow) -> None:
        self._write(
            "INSERT INTO turns (session_id, turn, candidates, slate, choice, critique, seeds, image_refs, created, "
            "fallback) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                row.session_id, row.turn, json.dumps(row.candidates), json.dumps(row.slate),
                row.choice, row.critique, json.dumps(row.seeds), json.dumps(row.image_refs), row.created,
                row.fallback,
            ),
            ("UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), row.session_id)),
        )

    def answers(self, session_id: str) -> list[tuple[int, int, str | None]]:
        """(turn, choice, critique) of each answered turn, in order: what the page and a
        repeated click need, without reading back what was shown."""
        rows = self._rows("SELECT turn, choice, critique FROM turns WHERE session_id = ? ORDER BY turn", (session_id,))
        return [(r["turn"], r["choice"], r["critique"]) for r in rows]

    def turns(self, session_id: str) -> list[TurnRow]:
        rows = self._rows("SELECT * FROM turns WHERE session_id = ? ORDER BY turn", (session_id,))
        return [
            TurnRow(
                r["session_id"], r["turn"], json.loads(r["candidates"]), json.loads(r["slate"]),
                r["choice"], r["critique"], json.loads(r["seeds"]), json.loads(r["image_refs"]), r["created"],
                r["fallback"] if self._has_fallback else None,  # an older database, read as it is
            )
            for r in rows
        ]

    # -- evaluation answers -----------------------------------------------------------------

    def save_evaluation(self, session_id: str, evaluation: TurnEvaluation) -> None:
        satisfaction = json.dumps(list(evaluation.satisfaction)) if evaluation.satisfaction else None
        self._write(
            "INSERT OR REPLACE INTO evaluations VALUES (?,?,?,?,?,?,?)",
            (
                session_id, evaluation.turn, evaluation.preferred, satisfaction, evaluation.reason,
                evaluation.comparison, time.time(),
            ),
        )

    def evaluations(self, session_id: str) -> list[TurnEvaluation]:
        rows = self._rows("SELECT * FROM evaluations WHERE session_id = ? ORDER BY turn", (session_id,))
        return [
            TurnEvaluation(
                turn=r["turn"],
                preferred=r["preferred"],
                satisfaction=json.loads(r["satisfaction"]) if r["satisfaction"] else (),
                reason=r["reason"],
                comparison=r["comparison"],
            )
            for r in rows
        ]

    # -- beliefs ----------------------------------------------------------------------------

    def save_belief(self, session_id: str, turn: int, posterior: list[float]) -> None:
        self._write("INSERT OR REPLACE INTO beliefs VALUES (?,?,?)", (session_id, turn, json.dumps(posterior)))

    def beliefs(self, session_id: str) -> Iterator[tuple[int, list[float]]]:
        for r in self._rows("SELECT * FROM beliefs WHERE session_id = ? ORDER BY turn", (session_id,)):
            yield r["turn"], json.loads(r["posterior"])


def _session(r: sqlite3.Row) -> SessionRow:
    return SessionRow(
        id=r["id"], owner=r["owner"], arm=r["arm"], arm_spec=json.loads(r["arm_spec"]), seed=r["seed"],
        initial_prompt=r["initial_prompt"], folder=r["folder"], config=json.loads(r["config"]),
        phase=r["phase"], overall=r["overall"], completion_code=r["completion_code"],
        created=r["created"], updated=r["updated"],
    )
