"""Option parsing for the diffusers plugins: devices, dtypes, schedulers, model locations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pasta_core.errors import BackendError, InvalidValueError

DTYPES = {"fp32": "float32", "float32": "float32", "fp16": "float16", "float16": "float16",
          "bf16": "bfloat16", "bfloat16": "bfloat16"}

#: Short scheduler names -> (diffusers class, extra config). A class name is accepted too.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {}),
    "dpm++-karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "lcm": ("LCMScheduler", {}),
    "tcd": ("TCDScheduler", {}),
    "flow-euler": ("FlowMatchEulerDiscreteScheduler", {}),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def as_bool(name: str, value: Any) -> bool:
    """A boolean option; CLI strings such as ``true``/``0``/``yes`` accepted."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValueError(f"option {name} must be true or false, got {value!r}")


def as_int(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option {name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise InvalidValueError(f"option {name} must lie in {low}..{high}, got {number}")
    return number


def as_size(name: str, value: Any) -> int | None:
    if value in (None, ""):
        return None
    size = as_int(name, value, 8, 8192)
    if size % 8:
        raise InvalidValueError(f"option {name} must be a multiple of 8 pixels, got {size}")
    return size


def resolve_device(torch: Any, device: str | None) -> str:
    """``auto`` -> cuda, then mps, then cpu; an explicit device must exist."""
    name = (device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidValueError(f"device {device!r} asked for, but torch sees no CUDA GPU; use device=cpu")
    return name


def resolve_dtype(torch: Any, dtype: str | None, device: str) -> Any:
    """``auto`` -> fp16 on GPUs, fp32 on CPU. fp16 on CPU is refused (slow, partly unsupported)."""
    name = (dtype or "auto").strip().lower()
    if name == "auto":
        name = "fp32" if device == "cpu" else "fp16"
    if name not in DTYPES:
        raise InvalidValueError(f"dtype must be one of auto, fp32, fp16, bf16; got {dtype!r}")
    if device == "cpu" and DTYPES[name] == "float16":
        raise InvalidValueError("dtype fp16 needs a GPU; on CPU use dtype=fp32 (or bf16)")
    return getattr(torch, DTYPES[name])


def scheduler_spec(name: str) -> tuple[str, dict[str, Any]]:
    """A scheduler's diffusers class name and config overrides, from a short or class name."""
    key = name.strip()
    if key.lower() in SCHEDULERS:
        return SCHEDULERS[key.lower()]
    if key.endswith("Scheduler"):
        return key, {}
    raise InvalidValueError(
        f"unknown scheduler {name!r}; use one of {', '.join(SCHEDULERS)} or a diffusers class name"
    )


def _hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _is_cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "model_index.json")
    except Exception:  # an id the hub would reject: not cached either
        return False
    return isinstance(found, str)


def weights_help(model: str, plugin: str) -> str:
    """Where to put weights so that ``model`` loads without a network."""
    return (
        f"put the pipeline in a folder in diffusers layout (model_index.json, unet/, vae/, "
        f"text_encoder/, tokenizer/, scheduler/ ...), e.g. on a machine with network: "
        f"huggingface-cli download {model} --local-dir /models/{plugin}, then pass "
        f"--t2i-option model=/models/{plugin}; or fill the Hugging Face cache ({_hub_cache()}, "
        f"moved with HF_HOME) with that model"
    )


def resolve_model(model: str, plugin: str) -> str:
    """A pipeline folder, or a hub id; raise a clear error when neither can load offline."""
    text = str(model).strip()
    if not text:
        raise InvalidValueError("option model must be a pipeline folder or a Hugging Face model id")
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise BackendError(
                f"{path} is not a diffusers pipeline folder (it has no model_index.json); "
                f"save one with pipeline.save_pretrained(folder) or {weights_help('ID', plugin)}"
            )
        return str(path)
    looks_like_path = text.startswith(("/", ".", "~")) or text.count("/") > 1 or "\\" in text
    if looks_like_path:
        raise BackendError(f"model folder {text} does not exist; {weights_help('MODEL_ID', plugin)}")
    if _offline() and not _is_cached(text):
        raise BackendError(
            f"model {text!r} is not a folder and is not in the Hugging Face cache, and "
            f"HF_HUB_OFFLINE=1 forbids downloading it. To fix: {weights_help(text, plugin)}"
        )
    return text
