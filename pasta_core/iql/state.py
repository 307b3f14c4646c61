"""Trainer state on disk, for resuming a killed run exactly.

``<out>/train-state/step-NNNNNNNN/`` holds the online and target networks, the optimizer
state and the torch RNG state (safetensors, no pickle) plus ``state.json`` (step, settings,
data fingerprint). ``<out>/train-state/latest.json`` names the newest complete folder and is
replaced atomically after the folder is written and synced to the disk, so a kill or a power
loss at any moment leaves a usable state. Batches depend only on (seed, step), so nothing
else needs saving.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pasta_core.atomic import sync_file, sync_folder, write_json

STATE_DIR = "train-state"
LATEST = "latest.json"


def _optimizer_tensors(optimizer: Any) -> dict[str, Any]:
    import torch

    tensors = {}
    for index, values in optimizer.state_dict()["state"].items():
        for key, value in values.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{index}/{key}"] = tensor.contiguous()
    return tensors


def _load_optimizer(optimizer: Any, tensors: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, key = name.split("/", 1)
        state.setdefault(int(index), {})[key] = tensor
    current = optimizer.state_dict()
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})


def save_state(out: Path, step: int, online: Any, target: Any, optimizer: Any, info: dict[str, Any]) -> Path:
    """Write the trainer state of ``step`` and point ``latest.json`` at it."""
    import torch
    from safetensors.torch import save_file, save_model

    root = out / STATE_DIR
    folder = root / f"step-{step:08d}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    save_model(online, str(folder / "online.safetensors"))
    save_model(target, str(folder / "target.safetensors"))
    save_file(_optimizer_tensors(optimizer), str(folder / "optimizer.safetensors"))
    save_file({"cpu": torch.get_rng_state()}, str(folder / "rng.safetensors"))
    for name in ("online", "target", "optimizer", "rng"):
        sync_file(folder / f"{name}.safetensors")
    write_json(folder / "state.json", {**info, "step": step})  # syncs the folder's entries too
    sync_folder(root)
    write_json(root / LATEST, {"folder": folder.name, "step": step})
    for old in root.glob("step-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_state(out: Path) -> dict[str, Any] | None:
    """``state.json`` of the newest complete state under ``out`` (with its folder), or None."""
    pointer = out / STATE_DIR / LATEST
    if not pointer.is_file():
        return None
    folder = out / STATE_DIR / json.loads(pointer.read_text())["folder"]
    info = json.loads((folder / "state.json").read_text())
    info["folder"] = str(folder)
    return info


def load_state(info: dict[str, Any], online: Any, target: Any, optimizer: Any) -> int:
    """Restore networks, optimizer and RNG from ``latest_state``'s answer; returns the step."""
    import torch
    from safetensors.torch import load_file, load_model

    folder = Path(info["folder"])
    device = str(next(online.parameters()).device)
    load_model(online, str(folder / "online.safetensors"), device=device)
    load_model(target, str(folder / "target.safetensors"), device=device)
    _load_optimizer(optimizer, load_file(str(folder / "optimizer.safetensors")))
    torch.set_rng_state(load_file(str(folder / "rng.safetensors"))["cpu"])
    return int(info["step"])
