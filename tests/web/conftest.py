"""Fixtures for the web app tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def plugins():
    """The installed plugins (a test is its own entry point), handed to the web app."""
    from pasta_core.plugins import get_plugins

    return get_plugins()


@pytest.fixture()
def settings(tmp_path):
    """Embedded defaults, data under the test's tmp folder."""
    from pasta_web.settings import ServerSettings

    return ServerSettings(db=tmp_path / "web" / "pasta.sqlite3")
