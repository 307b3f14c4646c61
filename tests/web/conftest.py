"""Fixtures for the web app tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture()
def settings(tmp_path):
    """Embedded defaults, data under the test's tmp folder."""
    from pasta_web.settings import ServerSettings

    return ServerSettings(db=tmp_path / "web" / "pasta.sqlite3")
