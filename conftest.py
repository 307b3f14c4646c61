"""Suite-wide settings (offline, a deterministic Hypothesis profile for CI) and fixtures."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


class _Runner:
    """The ``pasta`` CLI with the installed plugins' commands, run in-process."""

    def __init__(self) -> None:
        from click.testing import CliRunner

        from pasta_cli import cli, load_plugin_commands

        load_plugin_commands()
        self.cli = cli
        self.runner = CliRunner()

    def invoke(self, args, input=None):
        return self.runner.invoke(self.cli, args, input=input, catch_exceptions=False)


@pytest.fixture
def cli_runner():
    return _Runner()
