"""Fixtures for testing PASTA plugins (none is autouse).

- ``pasta_plugins(*plugins, discover=False)``: a fresh :class:`~pasta_core.plugins.Plugins`
  holding only the given plugin modules/objects (plus installed ones with ``discover=True``).
- ``pasta_fakes``: an :class:`~pasta_core.engine.Agent` built from the fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def pasta_plugins() -> Callable[..., Any]:
    """Factory for an isolated plugin set."""
    from pasta_core.plugins import Plugins, installed_entry_points

    def make(*plugins: object, discover: bool = False) -> Plugins:
        return Plugins(entry_points=installed_entry_points if discover else None, extra=plugins)

    return make


@pytest.fixture
def pasta_fakes() -> Any:
    """An agent made of the test kit's fakes (generator, selector, T2I)."""
    from pasta_core.engine import Agent
    from pasta_core.testing.fakes import FakeGenerator, FakeSelector, FakeT2I

    return Agent(FakeGenerator(), FakeSelector(), FakeT2I())
