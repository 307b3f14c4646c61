"""One exception hierarchy for everything PASTA raises on purpose.

Every message should tell the user what to do next.
"""

from __future__ import annotations

from typing import Any


class PastaError(Exception):
    """Base class of all errors raised by PASTA and its plugins."""


class InvalidValueError(PastaError, ValueError):
    """A value (prompt, slate, choice, config) breaks one of the framework's rules."""


class PluginError(PastaError):
    """A plugin could not be loaded, registered or found."""


class UnknownPluginError(PluginError, LookupError):
    """A name was asked for that no installed plugin registered."""

    def __init__(self, kind: str, name: str, installed: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.installed = sorted(installed)
        listing = ", ".join(self.installed) if self.installed else "none"
        super().__init__(f"unknown {kind} {name!r}; installed: {listing}")


class DuplicatePluginError(PluginError):
    """Two plugins registered the same name for the same kind of component."""


class MissingDependencyError(PastaError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package} is not installed; install it with: pip install 'pasta-t2i[{extra}]'"
        )


class SessionError(PastaError):
    """A session folder is missing, corrupt, finished or used out of order."""


class BackendError(PastaError):
    """A model backend (LLM provider, T2I pipeline) failed after its retries."""


def require(module: str, extra: str, package: str | None = None) -> Any:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(package or module, extra) from exc
