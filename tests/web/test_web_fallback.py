"""The web app's turns record the fallback generator (``Turn.fallback``, issue 18) in
SQLite as the Parquet trajectory does: written at the click, exported, and added by
``pasta serve`` to a database of the older schema, which the export reads unchanged."""

from __future__ import annotations

import json
import sqlite3

import attrs
import pyarrow.parquet as pq

from pasta_core.config import EpisodeConfig
from pasta_core.protocols import FallbackCandidates
from pasta_web.db import APPLICATION_ID, SCHEMA_VERSION, TurnRow, WebStore
from pasta_web.export import export_sessions
from pasta_web.service import WebSessions
from pasta_web.settings import ServerSettings

OWNER = "b" * 64

#: The turns table before ``fallback`` (schema version 1), as older servers made it.
SCHEMA_V1 = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, owner TEXT NOT NULL, arm TEXT NOT NULL, arm_spec TEXT NOT NULL,
    seed INTEGER NOT NULL, initial_prompt TEXT NOT NULL, folder TEXT NOT NULL, config TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT 'interaction', overall INTEGER, completion_code TEXT, created REAL NOT NULL,
    updated REAL NOT NULL);
CREATE INDEX sessions_owner ON sessions(owner);
CREATE TABLE turns (session_id TEXT NOT NULL REFERENCES sessions(id), turn INTEGER NOT NULL,
    candidates TEXT NOT NULL, slate TEXT NOT NULL, choice INTEGER NOT NULL, critique TEXT, seeds TEXT NOT NULL,
    image_refs TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (session_id, turn));
CREATE TABLE evaluations (session_id TEXT NOT NULL REFERENCES sessions(id), turn INTEGER NOT NULL,
    preferred INTEGER, satisfaction TEXT, reason TEXT, comparison TEXT, updated REAL NOT NULL,
    PRIMARY KEY (session_id, turn));
CREATE TABLE beliefs (session_id TEXT NOT NULL REFERENCES sessions(id), turn INTEGER NOT NULL,
    posterior TEXT NOT NULL, PRIMARY KEY (session_id, turn));
"""


class FallsBackOnTurn2:
    """The session's generator, with turn 2's candidates written "by a fallback"."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def generate(self, request):
        answer = self.inner.generate(request)
        return FallbackCandidates(list(answer), "template") if request.turn == 2 else answer


def _old_database(path, tmp_path):
    """A version-1 database with one answered turn (its session folder is not needed to export)."""
    arm = ServerSettings(db=tmp_path / "unused.sqlite3").arms[0]
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    db.execute("PRAGMA user_version=1")
    candidates = [{"text": f"a boat, {c}", "category": c} for c in ("style", "lighting", "color", "mood")]
    db.execute("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
               ("a" * 32, OWNER, arm.name, json.dumps(arm.spec()), 7, "a boat", str(tmp_path / "gone"),
                json.dumps(attrs.asdict(EpisodeConfig())),
                "evaluation", None, None, 1.0, 1.0))
    db.execute("INSERT INTO turns VALUES (?,?,?,?,?,?,?,?,?)",
               ("a" * 32, 1, json.dumps(candidates), json.dumps(candidates), 2, None, json.dumps([[1]] * 4),
                json.dumps([["images/t1/c1.png"]] * 4), 1.0))
    db.commit()
    db.close()


def _version(path) -> int:
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def test_a_fallback_turn_is_stored_and_exported(settings, plugins, tmp_path):
    web = WebSessions(settings, plugins, background=False)
    try:
        shared = web.pool.get(settings.arms[0])
        shared.generator = FallsBackOnTurn2(shared.generator)
        row = web.create(OWNER, "a red boat on a lake")
        for turn in range(1, 4):
            web.choose(OWNER, row.id, turn, 1)
        assert [t.fallback for t in web.store.turns(row.id)] == [None, "template", None]
        assert [t.as_turn().fallback for t in web.store.turns(row.id)] == [None, "template", None]
    finally:
        web.close()
    path, count = export_sessions(settings.db, tmp_path / "out", finished_only=False, images=False)
    assert count == 1
    assert pq.read_table(path).column("fallback").to_pylist() == [None, "template", None]


def test_an_older_database_is_exported_unchanged_and_migrated_by_the_server(tmp_path):
    db = tmp_path / "old.sqlite3"
    _old_database(db, tmp_path)
    before = db.read_bytes()
    path, count = export_sessions(db, tmp_path / "out", finished_only=False, images=False)
    assert count == 1 and pq.read_table(path).column("fallback").to_pylist() == [None]
    assert db.read_bytes() == before and _version(db) == 1  # the export changed nothing

    store = WebStore(db)  # what `pasta serve` opens: the column is added, the rows kept
    try:
        assert _version(db) == SCHEMA_VERSION
        (old,) = store.turns("a" * 32)
        assert old.choice == 2 and old.fallback is None
        store.add_turn(TurnRow("a" * 32, 2, old.candidates, old.slate, 0, None, old.seeds, old.image_refs, 2.0,
                               "template"))
        assert [t.fallback for t in store.turns("a" * 32)] == [None, "template"]
    finally:
        store.close()
    WebStore(db).close()  # opening a migrated database again changes nothing
    assert _version(db) == SCHEMA_VERSION
    path, count = export_sessions(db, tmp_path / "again", finished_only=False, images=False)
    assert pq.read_table(path).column("fallback").to_pylist() == [None, "template"]
