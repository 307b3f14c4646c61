"""PASTA core: protocols, data types, plugin system, episode loop and trainers."""

from pasta_core.config import DEFAULT_CATEGORIES, EpisodeConfig, word_limit
from pasta_core.errors import (
    InvalidValueError,
    MissingDependencyError,
    PastaError,
    PluginError,
    SessionError,
    UnknownPluginError,
)
from pasta_core.plugins import Plugins, get_plugins, hookimpl
from pasta_core.types import Candidate, Column, History, Trajectory, Turn

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_CATEGORIES",
    "Candidate",
    "Column",
    "EpisodeConfig",
    "History",
    "InvalidValueError",
    "MissingDependencyError",
    "PastaError",
    "PluginError",
    "Plugins",
    "SessionError",
    "Trajectory",
    "Turn",
    "UnknownPluginError",
    "get_plugins",
    "hookimpl",
    "word_limit",
]
