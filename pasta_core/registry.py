"""Typed name -> factory registries filled by the registration hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

import attrs

from pasta_core.errors import DuplicatePluginError, PastaError, PluginError, UnknownPluginError

T = TypeVar("T")

#: The component kinds, in the order ``pasta plugins`` lists them, with their hook names.
KINDS: dict[str, str] = {
    "generator": "pasta_register_generators",
    "selector": "pasta_register_selectors",
    "t2i": "pasta_register_t2i_models",
    "user-model": "pasta_register_user_models",
    "aggregator": "pasta_register_aggregators",
    "value-model": "pasta_register_value_models",
    "encoder": "pasta_register_encoders",
}


class Register(Protocol):
    """The callable handed to a registration hook."""

    def __call__(self, name: str, factory: Callable[..., Any], description: str = "") -> None: ...


@attrs.frozen
class Entry(Generic[T]):
    """One registered component: its name, factory, description and the plugin behind it."""

    name: str
    factory: Callable[..., T]
    description: str
    plugin: str


class Registry(Generic[T]):
    """Name -> factory map for one kind of component."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, factory: Callable[..., T], description: str = "", *, plugin: str) -> None:
        if not name or not isinstance(name, str):
            raise DuplicatePluginError(f"plugin {plugin!r} registered a {self.kind} with no name")
        if name in self._entries:
            other = self._entries[name].plugin
            raise DuplicatePluginError(
                f"{self.kind} {name!r} is registered twice: by {other!r} and by {plugin!r}; "
                f"uninstall or disable one (PASTA_DISABLE_PLUGINS={plugin})"
            )
        self._entries[name] = Entry(name, factory, description, plugin)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownPluginError(self.kind, name, self.names()) from None

    def create(self, name: str, context: Any = None, **options: Any) -> T:
        """Build the component ``name`` with ``options`` passed to its factory.

        A factory that declares a ``plugins`` keyword parameter also gets ``context`` (the
        :class:`~pasta_core.plugins.Plugins` set it is created from) as ``plugins=``, so it
        builds its own parts (an aggregator, an encoder) from that set and no global one."""
        factory = self.get(name).factory
        given = sorted(options)
        takes_plugins, accepted = _signature(factory)
        if context is not None and "plugins" not in options and takes_plugins:
            options["plugins"] = context
        unknown = [key for key in given if accepted is not None and key not in accepted]
        if unknown:
            raise PluginError(f"{self.kind} {name!r} has no option {', '.join(map(repr, unknown))}; "
                              f"its options: {', '.join(accepted or ()) or 'none'}")
        try:
            return factory(**options)
        except PastaError:
            raise
        except (TypeError, ValueError) as exc:
            if not given:  # no option of the caller's: a fault of the plugin, shown as such
                raise
            shown = ", ".join(f"{key}={options[key]!r}" for key in given)
            raise PluginError(f"{self.kind} {name!r} refused its options ({shown}): "
                              f"{' '.join(str(exc).split())}; its options: {', '.join(accepted or ()) or 'see its docs'}"
                              ) from exc


def _signature(factory: Callable[..., Any]) -> tuple[bool, list[str] | None]:
    """Whether ``factory`` takes a ``plugins`` keyword, and the option names it takes (None
    when it takes any: ``**options``, or a signature that cannot be read)."""
    import inspect

    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False, None
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    takes_plugins = "plugins" in parameters and parameters["plugins"].kind in named
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return takes_plugins, None
    return takes_plugins, [key for key, p in parameters.items() if p.kind in named and key != "plugins"]
