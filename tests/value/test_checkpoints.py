"""pasta_checkpoints: safetensors headers, tensor names and shapes, finite values and
config.json fields, each refused with a message naming the file."""

from __future__ import annotations

import json
import os
import struct

import pytest

from pasta_checkpoints import (
    CheckpointError,
    check_fields,
    check_shapes,
    load_safetensors,
    read_header,
    read_json_config,
    replace_folder,
)
from pasta_core import atomic
from pasta_core.errors import InvalidValueError


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]], extra: bytes = b"") -> bytes:
    """A safetensors file by hand (header, then zeroed data): no torch needed."""
    sizes = {"F32": 4, "I64": 8}
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = sizes[dtype] * (shape[0] * shape[1] if len(shape) == 2 else shape[0] if shape else 1)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + bytes(offset) + extra


def test_a_good_header_gives_names_dtypes_and_shapes(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes({"w": ("F32", [2, 3]), "step": ("I64", [])}))
    assert read_header(path) == {"w": ("F32", (2, 3)), "step": ("I64", ())}


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty or truncated"),
    (b"\x05\x00", "empty or truncated"),
    (struct.pack("<Q", 2**40) + b"{}", "not a safetensors file"),
    (struct.pack("<Q", 500) + b"{}", "truncated"),
    (struct.pack("<Q", 6) + b"{nope}", "header is not JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (struct.pack("<Q", 37) + b'{"w": {"dtype": "F32", "shape": [2]}}', "tensor 'w' is invalid"),
])
def test_a_damaged_file_is_named_with_what_is_wrong(tmp_path, data, words):
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=words) as caught:
        read_header(path)
    assert str(path) in str(caught.value)


def test_tensor_data_cut_off_is_truncation(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes({"w": ("F32", [4, 4])})[:-8])
    with pytest.raises(CheckpointError, match="truncated: its tensors need 64 bytes"):
        read_header(path)


def test_wrong_sizes_or_dtypes_in_the_header_are_corruption(tmp_path):
    path = tmp_path / "m.safetensors"
    for entry in ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]},
                  {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]},
                  {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}):
        raw = json.dumps({"w": entry}).encode()
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(8))
        with pytest.raises(CheckpointError, match="corrupt"):
            read_header(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        read_header(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        read_header(tmp_path)


def test_shapes_are_checked_against_what_the_config_builds(tmp_path):
    expected = {"a": (2, 3), "b": (4,), "c": (1,)}
    check_shapes("m", {"a": (2, 3), "b": (4,)}, expected, optional=["c"])
    with pytest.raises(CheckpointError) as caught:
        check_shapes("m.safetensors", {"a": (3, 3), "x": (1,)}, expected, config="config.json")
    message = str(caught.value)
    assert "m.safetensors does not match config.json" in message
    assert "missing tensors b, c" in message and "unexpected tensors x" in message
    assert "a [3, 3] (expected [2, 3])" in message


def test_checkpoint_errors_are_invalid_values():
    """Callers that caught InvalidValueError from the loaders still catch these."""
    assert issubclass(CheckpointError, InvalidValueError)


def test_config_fields_are_typed(tmp_path):
    path = tmp_path / "config.json"
    kinds = {"dim": "int>0", "hidden": "int>=0", "scale": "number>0", "name": "str", "opts": "object", "d": "int>0?"}
    check_fields(path, {"dim": 3, "hidden": 0, "scale": 0.5, "name": "x", "opts": {}, "d": None}, kinds)
    check_fields(path, {}, kinds)  # absent keys take their defaults
    for key, value in [("dim", "3"), ("dim", 0), ("dim", True), ("dim", 2.0), ("hidden", -1), ("scale", float("nan")),
                       ("scale", 0), ("name", 5), ("opts", []), ("d", "x")]:
        with pytest.raises(CheckpointError, match=f"'{key}' must be") as caught:
            check_fields(path, {key: value}, kinds)
        assert str(path) in str(caught.value)


@pytest.mark.parametrize(("data", "words"), [
    (b"{nope", "not valid JSON"), (b"\xff\xfe", "not UTF-8"), (b"[1]", "must hold a JSON object"),
])
def test_json_config_is_read_checked(tmp_path, data, words):
    path = tmp_path / "config.json"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=words):
        read_json_config(path)
    with pytest.raises(CheckpointError, match="missing"):
        read_json_config(tmp_path / "other.json")


def test_loading_checks_names_shapes_and_finite_values(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")

    path = tmp_path / "m.safetensors"
    safetensors_torch.save_file({"w": torch.ones(2, 3), "old": torch.zeros(1)}, str(path))
    tensors = load_safetensors(path, expected={"w": (2, 3), "new": (1,)}, rename=lambda n: {"old": "new"}.get(n, n))
    assert sorted(tensors) == ["new", "w"] and torch.equal(tensors["w"], torch.ones(2, 3))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_safetensors(path, expected={"w": (3, 2), "old": (1,)})
    safetensors_torch.save_file({"w": torch.tensor([1.0, float("inf")]), "n": torch.tensor([1, 2])}, str(path))
    with pytest.raises(CheckpointError, match="non-finite values .* in tensor 'w'"):
        load_safetensors(path)


def test_a_folder_is_replaced_whole(tmp_path, monkeypatch):
    """Every file and folder of the new checkpoint is synced before the move, the parent after."""
    syncs = []
    for kind in ("file", "folder"):
        monkeypatch.setattr(atomic, f"sync_{kind}", lambda path, kind=kind: syncs.append((kind, os.fspath(path))))
    final, tmp = tmp_path / "lm", tmp_path / ".lm.tmp"
    final.mkdir()
    (final / "old.bin").write_bytes(b"old")
    (tmp / "sub").mkdir(parents=True)
    (tmp / "sub" / "new.bin").write_bytes(b"new")
    replace_folder(tmp, final)
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*")) == ["sub", "sub/new.bin"]
    assert ("file", str(tmp / "sub" / "new.bin")) in syncs and syncs[-1] == ("folder", str(tmp_path))
