"""Options of the LLM generator factories: numbers and flags from the CLI, the fallback, keys."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pasta_core.errors import BackendError, InvalidValueError
from pasta_llm.generator import Fallback

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins

#: The values of the ``fallback`` option.
FALLBACKS = ("none", "template")


def fallback_from_option(value: Any, plugins: Plugins) -> Fallback | None:
    """The ``fallback`` option as a :class:`~pasta_llm.generator.Fallback`, or None for ``none``.

    ``template`` is built now from ``plugins`` (the set the LLM generator is created from),
    so a missing or disabled ``template`` generator shows at start-up, not mid-session."""
    name = "none" if value in (None, "", False) else str(value).strip().lower()
    if name not in FALLBACKS:
        raise InvalidValueError(f"fallback must be one of {', '.join(FALLBACKS)}; got {value!r}")
    if name == "none":
        return None
    return Fallback(name, plugins.create("generator", name))


def option_float(name: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    """A float option (CLI strings accepted) within [low, high]."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option {name} must be a number, got {value!r}") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidValueError(f"option {name} must lie in [{low}, {high}], got {number}")
    return number


def option_bool(name: str, value: Any) -> bool:
    """A boolean option; CLI strings such as ``true``/``0``/``yes`` accepted."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise InvalidValueError(f"option {name} must be true or false, got {value!r}")


def option_int(name: str, value: Any, low: int = 0) -> int:
    """An integer option (CLI strings accepted) of at least ``low``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option {name} must be an integer, got {value!r}") from None
    if number < low:
        raise InvalidValueError(f"option {name} must be at least {low}, got {number}")
    return number


def api_key(variables: Sequence[str], provider: str, extra: str) -> str:
    """The first set environment variable of ``variables``, or a clear error saying what to set."""
    for variable in variables:
        value = os.environ.get(variable, "").strip()
        if value:
            return value
    names = " or ".join(variables)
    raise BackendError(
        f"no {provider} API key: set the environment variable {names} "
        f"(keys are read from the environment only), e.g. export {variables[0]}=... ; "
        f"the SDK comes with pip install 'pasta-t2i[{extra}]'"
    )
