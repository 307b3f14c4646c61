"""Checked reading of the checkpoint files plugins load: ``config.json`` and safetensors.

A library the plugins that save and load checkpoints share (``pasta_value``,
``pasta_clip_em``), as ``pasta_llm`` is for the LLM plugins; it registers nothing.
A checkpoint a person hands to PASTA may be truncated by a full disk, emptied by a killed
copy, edited by hand, or come from another model. :func:`load_safetensors` refuses all of
that with a :class:`CheckpointError` naming the file, before any tensor reaches a model:

- the header must be readable and consistent with the file's size (a truncated or empty
  file, or one that is not safetensors at all, is named as such);
- with ``expected`` (name -> shape, usually a freshly built module's ``state_dict``), every
  expected tensor must be there with its shape, and no other tensor may be;
- every floating-point tensor must be finite: a model trained into NaN is refused.

:func:`read_json_config` reads a ``config.json`` (or any small JSON object) the same way.
A plugin that saves a checkpoint folder puts it in place with :func:`replace_folder`.
Torch and safetensors are imported only when a file is loaded (they are extras).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from pasta_core import atomic
from pasta_core.errors import InvalidValueError, require

#: safetensors refuses headers larger than this; so do we, before reading them.
MAX_HEADER_BYTES = 100_000_000
#: Bytes per element of the safetensors dtypes.
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_REDO = "save it again or restore it from a copy"


class CheckpointError(InvalidValueError):
    """A checkpoint file is missing, corrupt, foreign or holds non-finite values."""


def read_json_config(path: str | os.PathLike[str], what: str = "checkpoint") -> dict[str, Any]:
    """A JSON object from ``path``; an unreadable file, or one that is not a UTF-8 JSON
    object, raises :class:`CheckpointError` naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: is {path.parent} a {what} folder?") from None
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path} is not UTF-8 text (byte {exc.start}); {_REDO}") from None
    except ValueError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); {_REDO}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, not {type(data).__name__}; {_REDO}")
    return data


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return (_integer(value) or isinstance(value, float)) and math.isfinite(value)


#: The field kinds of :func:`check_fields`: what a value must be, and how to say it.
FIELD_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_integer, "an integer"),
    "int>0": (lambda v: _integer(v) and v > 0, "a positive integer"),
    "int>=0": (lambda v: _integer(v) and v >= 0, "a non-negative integer"),
    "number": (_number, "a finite number"),
    "number>0": (lambda v: _number(v) and v > 0, "a positive number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "object": (lambda v: isinstance(v, dict), "a JSON object"),
}


def check_fields(path: str | os.PathLike[str], data: Mapping[str, Any], fields: Mapping[str, str]) -> None:
    """Raise :class:`CheckpointError` naming the file and the key unless every key of
    ``fields`` present in ``data`` has its kind (a key of :data:`FIELD_KINDS`; a trailing
    ``?`` also allows null)."""
    for name, kind in fields.items():
        if name not in data:
            continue
        value, nullable = data[name], kind.endswith("?")
        check, words = FIELD_KINDS[kind.rstrip("?")]
        if not (check(value) or (nullable and value is None)):
            words += " or null" if nullable else ""
            raise CheckpointError(f"{path}: {name!r} must be {words}, got {value!r}; {_REDO}")


def read_header(path: str | os.PathLike[str]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape) from a safetensors file's header, checked against the
    file's size (without reading the tensors)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(8)
            length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            if length < 0 or size == 0:
                raise CheckpointError(f"{path} is empty or truncated ({size} bytes); {_REDO}")
            if length > MAX_HEADER_BYTES:
                raise CheckpointError(f"{path} is not a safetensors file (its first bytes are no header); {_REDO}")
            if 8 + length > size:
                raise CheckpointError(f"{path} is truncated ({size} bytes, its header alone needs {8 + length}); {_REDO}")
            raw = file.read(length)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; was training stopped before the first save?") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a safetensors file") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not JSON); {_REDO}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not a JSON object); {_REDO}")
    return _entries(path, header, size - 8 - length)


def _entries(path: Path, header: dict[str, Any], data_bytes: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    entries: dict[str, tuple[str, tuple[int, ...]]] = {}
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, stop) = info["dtype"], info["shape"], info["data_offsets"]
            valid = (dtype in DTYPE_SIZES and all(type(n) is int and n >= 0 for n in (*shape, begin, stop))
                     and stop - begin == math.prod(shape) * DTYPE_SIZES[dtype])
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise CheckpointError(f"{path} is corrupt: the header entry of tensor {name!r} is invalid; {_REDO}")
        entries[name] = (dtype, tuple(shape))
        end = max(end, stop)
    if end > data_bytes:
        raise CheckpointError(f"{path} is truncated: its tensors need {end} bytes after the header, "
                              f"the file has {data_bytes}; {_REDO}")
    return entries


def check_shapes(
    path: str | os.PathLike[str],
    shapes: Mapping[str, Sequence[int]],
    expected: Mapping[str, Sequence[int]],
    optional: Collection[str] = (),
    config: str | os.PathLike[str] | None = None,
) -> None:
    """Raise :class:`CheckpointError` unless ``shapes`` (name -> shape of the file's tensors)
    has every name of ``expected`` (but those in ``optional``) with its shape, and no other."""
    against = f"{config}" if config is not None else "the model it is loaded into"
    missing = sorted(set(expected) - set(shapes) - set(optional))
    unexpected = sorted(set(shapes) - set(expected))
    wrong = [f"{name} {list(shapes[name])} (expected {list(expected[name])})"
             for name in sorted(set(shapes) & set(expected)) if tuple(shapes[name]) != tuple(expected[name])]
    problems = []
    if missing:
        problems.append(f"missing tensors {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors {_few(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes: {_few(wrong)}")
    if problems:
        raise CheckpointError(f"{path} does not match {against}: {'; '.join(problems)}; "
                              "was it saved by another model, or its config edited?")


def _few(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check_finite(path: str | os.PathLike[str], tensors: Mapping[str, Any]) -> None:
    """Raise :class:`CheckpointError` naming the first floating-point tensor (by name) that
    holds a NaN or an infinity."""
    torch = require("torch", "train")
    for name in sorted(tensors):
        tensor = tensors[name]
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path} holds non-finite values (NaN or inf) in tensor {name!r}: the model "
                                  "was saved after training diverged; use an earlier checkpoint or train again")


def load_safetensors(
    path: str | os.PathLike[str],
    *,
    expected: Mapping[str, Sequence[int]] | None = None,
    optional: Collection[str] = (),
    rename: Callable[[str], str] | None = None,
    config: str | os.PathLike[str] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """The tensors of a safetensors file, checked (see the module docstring).

    ``expected`` (name -> shape) is checked on the header before any tensor is read, after
    ``rename`` (old name -> current name, for checkpoints written before a rename);
    ``optional`` names expected tensors a file may lack; ``config`` names the file the
    expected shapes come from, for the message."""
    path = Path(path)
    header = read_header(path)
    rename = rename or (lambda name: name)
    shapes = {rename(name): shape for name, (_, shape) in header.items()}
    if expected is not None:
        check_shapes(path, shapes, expected, optional, config)
    safetensors_torch = require("safetensors.torch", "train", "safetensors")
    try:
        tensors = safetensors_torch.load_file(str(path), device=device)
    except Exception as exc:  # noqa: BLE001 - safetensors' own error type is not public API
        raise CheckpointError(f"{path} could not be read ({' '.join(str(exc).split())}); {_REDO}") from exc
    tensors = {rename(name): tensor for name, tensor in tensors.items()}
    check_finite(path, tensors)
    return tensors


def replace_folder(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> Path:
    """Put the finished folder ``tmp`` in place of ``final`` (which may exist), durably:
    every file under ``tmp`` and ``tmp`` itself are synced first, the parent folder after.
    A crash between removing the old folder and the move leaves no ``final``: callers
    write their record of it (a config naming it) after this returns."""
    tmp, final = Path(tmp), Path(final)
    for root, _, files in os.walk(tmp):
        for name in files:
            atomic.sync_file(Path(root) / name)
        atomic.sync_folder(root)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    atomic.sync_folder(final.parent)
    return final
