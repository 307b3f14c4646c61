"""Plugin discovery and the registries built from it.

:class:`Plugins` holds a pluggy manager with every plugin of the ``pasta`` entry point
group (``PASTA_LOAD_PLUGINS=a,b`` loads only those, ``PASTA_DISABLE_PLUGINS=a,b`` skips
those). A plugin that fails to import or to register is reported in
:attr:`Plugins.failures` and skipped; the host keeps working.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import types
from collections.abc import Callable, Iterable
from functools import cached_property, partial
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import pluggy

from pasta_core import hookspecs
from pasta_core.errors import DuplicatePluginError, PluginError
from pasta_core.registry import KINDS, Registry

GROUP = "pasta"
hookimpl = pluggy.HookimplMarker("pasta")


@attrs.frozen
class PluginInfo:
    """One loaded plugin: its entry-point name, distribution, version and hooks."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded or registered, and why."""

    name: str
    error: str


def _names_from_env(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    return None if value is None else {part.strip() for part in value.split(",") if part.strip()}


def installed_entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=GROUP)


class Plugins:
    """A plugin manager plus the typed registries its plugins filled (built lazily, once)."""

    def __init__(self, entry_points: Callable[[], Iterable[metadata.EntryPoint]] | None = installed_entry_points,
                 extra: Iterable[object] = (), only: Iterable[str] | None = None) -> None:
        """``only``: load just these entry-point plugins, whatever the environment says."""
        self.manager = pluggy.PluginManager(GROUP)
        self.manager.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self._dists: dict[str, tuple[str | None, str | None]] = {}
        self._discover = entry_points is not None
        if entry_points is not None:
            self._load_entry_points(entry_points(), None if only is None else set(only))
        for plugin in extra:
            self.register(plugin)

    def _load_entry_points(self, entry_points: Iterable[metadata.EntryPoint], names: set[str] | None = None) -> None:
        only, disabled = names, set()
        if names is None:
            only, disabled = _names_from_env("PASTA_LOAD_PLUGINS"), _names_from_env("PASTA_DISABLE_PLUGINS") or set()
        for ep in entry_points:
            if (only is not None and ep.name not in only) or ep.name in disabled or self.manager.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.manager.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the host down
                self.failures.append(PluginFailure(ep.name, f"{type(exc).__name__}: {exc}"))
                continue
            dist = getattr(ep, "dist", None)
            self._dists[ep.name] = (getattr(dist, "name", None), getattr(dist, "version", None))

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object or module directly (tests, embedding apps)."""
        self.manager.register(plugin, name=name)
        self.__dict__.pop("registries", None)

    @cached_property
    def registries(self) -> dict[str, Registry[Any]]:
        """Kind -> registry, filled by calling every registration hook once (a name registered
        twice is an error, not a plugin's failure)."""
        registries: dict[str, Registry[Any]] = {kind: Registry(kind) for kind in KINDS}
        for kind, hook in KINDS.items():
            self.call_each(hook, partial(_registration, registries[kind]), reraise=DuplicatePluginError)
        return registries

    def call_each(self, hook: str, arguments: Callable[[str], dict[str, Any]],
                  reraise: type[Exception] | tuple[type[Exception], ...] = ()) -> None:
        """Call every plugin's implementation of ``hook`` with the ones it takes of
        ``arguments(plugin name)``; a plugin whose call fails (but for ``reraise``) is
        reported in :attr:`failures` and the others still run."""
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            given = arguments(impl.plugin_name)
            try:
                missing = [name for name in impl.argnames if name not in given]
                if missing:
                    raise PluginError(f"plugin {impl.plugin_name!r}: its {hook} takes {', '.join(map(repr, missing))}, "
                                      f"which the caller does not give (it gives {', '.join(given) or 'nothing'})")
                impl.function(**{name: given[name] for name in impl.argnames})
            except reraise:
                raise
            except Exception as exc:  # a broken plugin must not take the host down
                self.failures.append(PluginFailure(impl.plugin_name, f"{type(exc).__name__}: {exc}"))

    def add_commands(self, cli: Any) -> None:
        """Let every plugin add its CLI sub-commands; a plugin that fails is reported."""
        self.call_each("pasta_register_commands", lambda plugin: {"cli": cli, "plugins": self})

    def registry(self, kind: str) -> Registry[Any]:
        """The registry of one kind (``generator``, ``selector``, ``t2i``, ...)."""
        try:
            return self.registries[kind]
        except KeyError:
            raise PluginError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}") from None

    def create(self, kind: str, name: str, **options: Any) -> Any:
        """Build component ``name`` of ``kind`` with ``options``; a factory that takes a
        ``plugins`` keyword gets this set (components never fetch a global one)."""
        return self.registry(kind).create(name, self, **options)

    def load(self, kind: str, name_or_folder: str | os.PathLike[str], **options: Any) -> Any:
        """A registered component by name, or one saved in a checkpoint folder.

        A folder holds ``config.json`` whose ``"plugin"`` key names the registered factory
        that loads it; that factory gets ``path=<folder>`` and ``options``. This is the one
        resolver of "name or checkpoint folder" for every kind."""
        target = os.fspath(name_or_folder)
        registry = self.registry(kind)
        if target in registry or not (os.path.isdir(target) or os.sep in target or "/" in target):
            return registry.create(target, self, **options)
        return self.create(kind, checkpoint_plugin(target, kind), **{**options, "path": target})

    def recipe(self) -> PluginRecipe:
        """A picklable description of this set, for worker processes: the entry-point
        plugins it loaded and the modules registered directly (by importable name)."""
        loaded = tuple(name for name in self._dists if self.manager.has_plugin(name))
        modules = []
        for name, plugin in self.manager.list_name_plugin():
            if name in self._dists:
                continue
            module = getattr(plugin, "__name__", None) if isinstance(plugin, types.ModuleType) else None
            if module is None or sys.modules.get(module) is not plugin:
                raise PluginError(f"plugin {name!r} is not a module importable by name, so worker processes "
                                  "cannot rebuild it: register an importable module, or use one worker")
            modules.append((str(name), module))
        return PluginRecipe(loaded, tuple(modules), discover=self._discover)

    def info(self) -> list[PluginInfo]:
        """What is installed: every loaded plugin with its hooks."""
        result = []
        for name, plugin in sorted(self.manager.list_name_plugin(), key=lambda p: str(p[0])):
            hooks = tuple(sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or []))
            dist, version = self._dists.get(str(name), (None, None))
            result.append(PluginInfo(str(name), dist, version, hooks))
        return result

    def provided(self) -> dict[str, dict[str, list[str]]]:
        """Plugin name -> kind -> names it registered."""
        result: dict[str, dict[str, list[str]]] = {}
        for kind, registry in self.registries.items():
            for entry in registry:
                result.setdefault(entry.plugin, {}).setdefault(kind, []).append(entry.name)
        return result


def _registration(registry: Registry[Any], plugin: str) -> dict[str, Any]:
    """The ``register`` a registration hook of ``plugin`` gets (it adds to ``registry``)."""
    return {"register": partial(registry.add, plugin=plugin)}


@attrs.frozen
class PluginRecipe:
    """How to build a plugin set equal to its parent's in a worker process (picklable):
    the entry-point plugins to load (whatever the worker's environment switches say) and,
    in order, the (registered name, module) pairs registered directly."""

    entry_points: tuple[str, ...]
    modules: tuple[tuple[str, str], ...] = ()
    discover: bool = True

    def build(self) -> Plugins:
        """The plugin set this recipe describes."""
        missing = set(self.entry_points) - {ep.name for ep in installed_entry_points()}
        if missing:
            raise PluginError(f"plugins {', '.join(sorted(missing))} are not installed in this worker's environment")
        plugins = Plugins(only=self.entry_points) if self.discover else Plugins(entry_points=None)
        if plugins.failures:  # the caller loaded it: without it this set would not be the caller's
            failed = plugins.failures[0]
            raise PluginError(f"plugin {failed.name!r} cannot be loaded in this worker "
                              f"({failed.error.splitlines()[0] if failed.error else 'no reason given'})")
        for name, module in self.modules:
            try:
                plugins.register(importlib.import_module(module), name=name)
            except ImportError as exc:
                raise PluginError(f"plugin {name!r}: module {module!r} cannot be imported in this worker ({exc})") from None
        return plugins


#: How to make a checkpoint of each kind, for error messages.
_MAKE_ONE = {
    "value-model": "; train one with: pasta value train --data PATH --out DIR",
    "user-model": "; train one with: pasta user-model train --out DIR",
}


def checkpoint_plugin(folder: str | os.PathLike[str], kind: str = "component") -> str:
    """The registered plugin name recorded in a checkpoint folder's ``config.json``."""
    path = Path(folder)
    config = path / "config.json"
    hint = _MAKE_ONE.get(kind, "")
    if not path.is_dir():
        raise PluginError(f"{folder} is neither a registered {kind} name nor a checkpoint folder{hint}")
    if not config.is_file():
        raise PluginError(f"{folder} is not a {kind} checkpoint folder (no config.json){hint}")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise PluginError(f"{config} is not valid UTF-8 JSON ({exc}); save it again or restore it from a copy") from None
    try:
        name = data["plugin"]
    except (KeyError, TypeError):
        raise PluginError(f"{config} does not name the plugin that loads it (a 'plugin' key)") from None
    if not isinstance(name, str) or not name:
        raise PluginError(f"{config}: 'plugin' must be a registered name, got {name!r}")
    return name


_default: Plugins | None = None


def get_plugins(fresh: bool = False) -> Plugins:
    """The process-wide plugins (discovered once), or a fresh set with ``fresh=True``."""
    global _default
    if fresh:
        return Plugins()
    if _default is None:
        _default = Plugins()
    return _default


def plugin_module(name: str, **hooks: Callable[..., Any]) -> types.ModuleType:
    """Build a plugin module from hook functions (handy in tests and notebooks)."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module
