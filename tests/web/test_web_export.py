"""`pasta sessions export` reads PASTA databases only (issue 22, item 4): any other SQLite
file (or a file that is no database at all) is refused and left byte-identical, with no
table added and its journal mode untouched."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from pasta_core.errors import InvalidValueError
from pasta_web.db import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, WebStore, check_database
from pasta_web.export import export_sessions


def _foreign(path):
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE people (name TEXT, born INTEGER); INSERT INTO people VALUES ('Ada', 1815);")
    db.commit()
    db.close()
    return path


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _pragma(path, name):
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        db.close()


def _export(db, out):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    return CliRunner().invoke(cli, ["sessions", "export", "--db", str(db), "--out", str(out)])


@pytest.mark.parametrize("kind", ["foreign", "not sqlite", "a sessions table of another app"])
def test_a_file_that_is_not_a_pasta_database_is_refused_and_left_unchanged(tmp_path, kind):
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "other.db"
    if kind == "foreign":
        _foreign(db)
    elif kind == "not sqlite":
        db.write_bytes(b"PAR1" + bytes(range(256)) * 8)
    else:
        connection = sqlite3.connect(db)
        connection.executescript("CREATE TABLE sessions (id TEXT, started REAL)")
        connection.close()
    before = _files(folder)
    result = _export(db, tmp_path / "out")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not a PASTA database" in result.output or "not an SQLite database" in result.output, result.output
    assert _files(folder) == before, "no byte changed, no journal or WAL file added"
    assert not (tmp_path / "out").exists()
    with pytest.raises(InvalidValueError):  # the server refuses it too, rather than add its tables
        WebStore(db)
    assert _files(folder) == before


def test_an_empty_file_is_no_database_to_export(tmp_path):
    db = tmp_path / "empty.db"
    db.touch()
    with pytest.raises(InvalidValueError, match="empty database"):
        export_sessions(db, tmp_path / "out")
    assert db.read_bytes() == b""


def test_a_new_database_is_stamped_and_exported(tmp_path):
    db = tmp_path / "web.db"
    WebStore(db).close()
    assert _pragma(db, "application_id") == APPLICATION_ID and _pragma(db, "user_version") == SCHEMA_VERSION
    assert check_database(db) is True
    path, count = export_sessions(db, tmp_path / "out")
    assert count == 0 and path.is_file()


def test_a_database_from_before_the_stamp_is_still_exported_unchanged(tmp_path):
    """Databases written before application_id/user_version are known by their tables;
    the export reads them without stamping them or changing their journal mode."""
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "old.db"
    connection = sqlite3.connect(db)
    connection.executescript(SCHEMA)
    connection.close()
    before = _files(folder)
    assert _pragma(db, "journal_mode") == "delete"
    path, count = export_sessions(db, tmp_path / "out")
    assert count == 0 and path.is_file()
    assert _files(folder) == before and _pragma(db, "application_id") == 0


def test_a_database_of_a_newer_schema_is_refused(tmp_path):
    db = tmp_path / "web.db"
    WebStore(db).close()
    connection = sqlite3.connect(db)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(InvalidValueError, match="newer PASTA"):
        export_sessions(db, tmp_path / "out")
