"""Few-step presets and scheduler settings for the diffusers plugins.

A preset fills in what a few-step model needs (steps, guidance, scheduler and its
settings) where the user did not set it: an explicit ``steps``, ``guidance``,
``scheduler`` or ``scheduler.KEY`` option always wins. The values are those the models'
authors publish for diffusers:

- ``turbo`` (SDXL-Turbo, SD-Turbo): 1 step, no classifier-free guidance, Euler ancestral
  with trailing timesteps;
- ``lightning`` (SDXL-Lightning UNet or LoRA, 4-step version): 4 steps, no guidance,
  Euler with trailing timesteps;
- ``lcm`` (an LCM UNet or an LCM-LoRA): 4 steps, guidance 1 (off), the LCM scheduler.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError

SCHEDULER_PREFIX = "scheduler."


@attrs.frozen
class Preset:
    """What a few-step model needs: steps, guidance, a scheduler and its settings."""

    steps: int
    guidance: float
    scheduler: str
    scheduler_config: dict[str, Any] = attrs.field(factory=dict)


PRESETS: dict[str, Preset] = {
    "turbo": Preset(1, 0.0, "euler-a", {"timestep_spacing": "trailing"}),
    "lightning": Preset(4, 0.0, "euler", {"timestep_spacing": "trailing"}),
    "lcm": Preset(4, 1.0, "lcm"),
}


def preset(name: str | None) -> Preset | None:
    """The preset called ``name`` (None for no preset, ``none`` or empty)."""
    key = (name or "none").strip().lower()
    if key in ("none", ""):
        return None
    if key not in PRESETS:
        raise InvalidValueError(f"unknown preset {name!r}; use one of none, {', '.join(PRESETS)}")
    return PRESETS[key]


def setting_value(text: Any) -> Any:
    """A scheduler setting typed on the command line: JSON (``true``, ``2``, ``0.5``,
    ``[1, 2]``) when it parses as JSON, else the text itself (``trailing``)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def scheduler_overrides(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``options`` into scheduler settings (``scheduler.KEY=VALUE``, the prefix
    removed, values parsed) and the rest."""
    settings, rest = {}, {}
    for key, value in options.items():
        if key.startswith(SCHEDULER_PREFIX) and len(key) > len(SCHEDULER_PREFIX):
            settings[key[len(SCHEDULER_PREFIX):]] = setting_value(value)
        else:
            rest[key] = value
    return settings, rest
