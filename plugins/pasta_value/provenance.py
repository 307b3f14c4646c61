"""Which user model gave a trajectory file its rewards, read from the files beside it.

Rewards of different user models are on different scales (the simple user's utilities
near 0, a CLIP-EM model's near 10), so ``pasta value train`` refuses to mix them unless
told to (``--mix-reward-sources``). The source of a file's recorded rewards is:

- beside ``simulation.json`` (``pasta simulate``): its ``user_model`` and options; a
  planted-sessions manifest: the planted world;
- in a session folder (``session.json``) played by ``pasta run --user sim``: that model and
  its options (a human's session records no reward);
- unknown otherwise (a file written by hand or another tool: not compared).

Rewards labelled at training time (``--user-model``) come from that model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pasta_core.errors import InvalidValueError


def describe_model(name: str, options: Mapping[str, Any] | None = None) -> str:
    """``"planted"`` or ``"planted (world=a.toml)"``: a user model and its options."""
    shown = ", ".join(f"{k}={v}" for k, v in sorted((options or {}).items()))
    return f"{name} ({shown})" if shown else name


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def file_source(file: str | Path) -> str | None:
    """The user model whose rewards the trajectory file ``file`` records (see the module
    docstring); None when nothing beside it says."""
    folder = Path(file).parent
    manifest = _read(folder / "simulation.json")
    if manifest is not None:
        if "user_model" in manifest:
            return describe_model(str(manifest["user_model"]), manifest.get("user_model_options"))
        if "world" in manifest:
            world = json.dumps(manifest["world"], sort_keys=True).encode()
            return f"planted (world {hashlib.sha256(world).hexdigest()[:8]})"
        return None
    session = _read(folder / "session.json")
    user = session.get("user") if session is not None else None
    if isinstance(user, dict) and user.get("kind") == "sim":
        return describe_model(str(user.get("model") or "simple"), user.get("options"))
    return None


def recorded_mode(file: str | Path) -> str | None:
    """The reward mode the file's rewards were recorded with: ``simulation.json``'s
    ``reward_mode`` (``pasta simulate``), or the ``session.json`` config's of a session
    played by ``pasta run --user sim``; None when nothing beside it says."""
    folder = Path(file).parent
    manifest = _read(folder / "simulation.json")
    if manifest is not None:
        mode = manifest.get("reward_mode")
    else:
        session = _read(folder / "session.json") or {}
        user, config = session.get("user"), session.get("config")
        simulated = isinstance(user, dict) and user.get("kind") == "sim" and isinstance(config, dict)
        mode = config.get("reward_mode") if simulated else None
    return mode if isinstance(mode, str) else None


def check_sources(sources: Mapping[str, Sequence[str]], mix: bool = False) -> None:
    """Raise :class:`InvalidValueError` when the rewards come from more than one user
    model (``sources``: model -> the files it rewarded) unless ``mix``."""
    if len(sources) <= 1 or mix:
        return
    parts = []
    for model, files in sorted(sources.items()):
        more = f" and {len(files) - 2} more" if len(files) > 2 else ""
        parts.append(f"{model} ({', '.join(sorted(files)[:2])}{more})")
    raise InvalidValueError(
        f"the rewards come from {len(sources)} different user models: {'; '.join(parts)}; their scales "
        "differ, so train on one source (--data), or pass --mix-reward-sources to mix them anyway"
    )
