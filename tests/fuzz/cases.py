"""The bad inputs of issue 22, one :class:`Case` each: how to make it from good files, the
``pasta`` command that meets it, and what its one-line error must name.

``issue`` says where the input comes from: ``T`` the issue's "Tracebacks instead of errors",
``S`` its "Silently accepted", ``B`` the brief's list (files validated where they are
read), ``X`` further inputs of the same kinds tried while fixing them.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class Run:
    argv: list[str]
    mentions: tuple[str, ...] = ()
    stdin: bytes | None = None
    stdin_errors: str = "strict"
    hidden_modules: tuple[str, ...] = ()  # imported as missing (an extra not installed)


@attrs.frozen
class Case:
    name: str
    issue: str
    make: Callable[[Path, Any], Run]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _session(tmp: Path, samples: Any) -> Path:
    return _copy(samples.session, tmp / "s")


def _state(edit: Callable[[dict[str, Any]], Any], *mentions: str) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        folder = _session(tmp, samples)
        state = json.loads((folder / "session.json").read_text())
        edit(state)
        (folder / "session.json").write_text(json.dumps(state))
        return Run(["run", "--resume", str(folder)], ("session.json", *mentions))

    return make


def _state_bytes(data: bytes) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        folder = _session(tmp, samples)
        (folder / "session.json").write_bytes(data)
        return Run(["run", "--resume", str(folder)], ("session.json",))

    return make


def _trajectory(data: Any = None, table: Callable[[], Any] | None = None) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        folder = _session(tmp, samples)
        path = folder / "trajectory.parquet"
        if table is not None:
            import pyarrow.parquet as pq

            pq.write_table(table(), path)
        else:
            path.write_bytes(data(path.read_bytes()) if callable(data) else data)
        return Run(["run", "--resume", str(folder)], ("trajectory.parquet",))

    return make


def _checkpoint(kind: str, weights: Any = None, config: Any = None, tensors: Callable[[dict], None] | None = None,
                command: str = "run", mentions: tuple[str, ...] = ()) -> Callable[[Path, Any], Run]:
    """A copy of the sample user (``um``) or value (``vm``) model with its weights' bytes,
    its tensors or its config.json changed, met by ``pasta run`` (or ``user-model show``)."""
    def make(tmp: Path, samples: Any) -> Run:
        folder = _copy(samples.user_model if kind == "um" else samples.value_model, tmp / kind)
        weights_file, config_file = folder / "model.safetensors", folder / "config.json"
        if tensors is not None:
            from safetensors.torch import load_file, save_file

            loaded = load_file(str(weights_file))
            tensors(loaded)
            save_file(loaded, str(weights_file))
        if weights is not None:
            weights_file.write_bytes(weights(weights_file.read_bytes()) if callable(weights) else weights)
        if config is not None:
            if callable(config):
                data = json.loads(config_file.read_text())
                config(data)
                config_file.write_text(json.dumps(data))
            else:
                config_file.write_bytes(config)
        named = mentions or (("config.json",) if config is not None else ("model.safetensors",))
        if command == "show":
            return Run(["user-model", "show", str(folder)], named)
        option = ["--user-model", str(folder)] if kind == "um" else ["--selector", "value", "--value-model", str(folder)]
        return Run(["run", "--user", "sim", *option, "--turns", "1", "--out", str(tmp / "out")], named)

    return make


def _nan(tensors: dict) -> None:
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")


def _inf(tensors: dict) -> None:
    name = sorted(tensors)[-1]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[-1] = float("inf")


def _narrow(tensors: dict) -> None:
    name = next(k for k in sorted(tensors) if tensors[k].dim() >= 2)
    tensors[name] = tensors[name][:1].clone()


def _extra(tensors: dict) -> None:
    import torch

    tensors["bogus"] = torch.zeros(2)


def _drop(tensors: dict) -> None:
    del tensors[next(k for k in sorted(tensors) if k != "prior")]


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _cli(*argv: str, mentions: tuple[str, ...] = ()) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        return Run([a.replace("{tmp}", str(tmp)) for a in argv], mentions)

    return make


def _with_file(name: str, data: bytes, *argv: str, mentions: tuple[str, ...] = ()) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        (tmp / name).write_bytes(data)
        return Run([a.replace("{tmp}", str(tmp)) for a in argv], mentions)

    return make


_WORLD = "[world]\nseed = 0\ntypes = 2\n"


def _world(text: str | bytes, *mentions: str) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        (tmp / "world.toml").write_bytes(text if isinstance(text, bytes) else text.encode())
        return Run(["planted", "sessions", "--world", str(tmp / "world.toml"), "--out", str(tmp / "o"), "-n", "1",
                    "--no-images"], ("world.toml", *mentions))

    return make


def _human(stdin: bytes, errors: str = "strict") -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        return Run(["run", "--user", "human", "--prompt", "a red fox", "--turns", "1", "--out", str(tmp / "o")],
                   ("UTF-8",), stdin=stdin, stdin_errors=errors)

    return make


def _resume_with(*flags: str) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        return Run(["run", "--resume", str(_session(tmp, samples)), *flags], (flags[0],))

    return make


def _serve_without_web(tmp: Path, samples: Any) -> Run:
    return Run(["serve", "--db", str(tmp / "db.sqlite3")], ("pasta-t2i[web]",), hidden_modules=("fastapi", "uvicorn"))


def _foreign_table() -> Any:
    import pyarrow as pa

    return pa.table({"a": [1, 2], "b": ["x", "y"]})


def _empty_table() -> Any:
    from pasta_core.store import SCHEMA

    return SCHEMA.empty_table()


def _mistyped_table() -> Any:
    import pyarrow as pa

    return pa.table({"session_id": [1], "turn": ["a"], "initial_prompt": [3], "candidates": [1], "slate": [1],
                     "choice": ["x"]})


def _value_train(table: Callable[[], Any]) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        import pyarrow.parquet as pq

        pq.write_table(table(), tmp / "t.parquet")
        return Run(["value", "train", "--data", str(tmp / "t.parquet"), "--out", str(tmp / "vm")], ("t.parquet",))

    return make


def _planted_user_model(world: str) -> Callable[[Path, Any], Run]:
    def make(tmp: Path, samples: Any) -> Run:
        (tmp / "world.toml").write_text(world)
        return Run(["run", "--user", "sim", "--user-model", "planted", "--user-model-option",
                    f"world={tmp / 'world.toml'}", "--out", str(tmp / "o")], ("world.toml", "types"))

    return make


_TRAIN = ("user-model", "train", "--data", "pickapic:{tmp}/pap.parquet", "--out", "{tmp}/um")

CASES: list[Case] = [
    # ----- user-model checkpoints (T: truncated or empty model.safetensors; B: the rest)
    Case("um-truncated", "T", _checkpoint("um", weights=_half)),
    Case("um-empty", "T", _checkpoint("um", weights=b"")),
    Case("um-garbage", "B", _checkpoint("um", weights=b"\x00garbage" * 100)),
    Case("um-header-not-json", "B", _checkpoint("um", weights=struct.pack("<Q", 20) + b"{not json at all.....")),
    Case("um-header-too-large", "B", _checkpoint("um", weights=struct.pack("<Q", 2**40) + b"{}")),
    Case("um-nan", "B", _checkpoint("um", tensors=_nan, mentions=("model.safetensors", "non-finite"))),
    Case("um-inf", "B", _checkpoint("um", tensors=_inf, mentions=("model.safetensors", "non-finite"))),
    Case("um-wrong-shape", "B", _checkpoint("um", tensors=_narrow, mentions=("model.safetensors", "config.json"))),
    Case("um-extra-tensor", "B", _checkpoint("um", tensors=_extra, mentions=("bogus",))),
    Case("um-missing-tensor", "B", _checkpoint("um", tensors=_drop, mentions=("missing",))),
    Case("um-config-types-edited", "B", _checkpoint("um", config=lambda c: c.update(types=3),
                                                   mentions=("model.safetensors", "config.json"))),
    Case("um-config-not-json", "B", _checkpoint("um", config=b"{nope")),
    Case("um-config-not-utf8", "T", _checkpoint("um", config=b'{"plugin": "clip-em", "dim": 32, "x": "\xff"}')),
    Case("um-config-not-object", "B", _checkpoint("um", config=b"[1, 2]")),
    Case("um-config-dim-text", "T", _checkpoint("um", config=lambda c: c.update(dim="abc"), mentions=("'dim'",))),
    Case("um-config-dim-list", "T", _checkpoint("um", config=lambda c: c.update(dim=[1]), mentions=("'dim'",))),
    Case("um-config-types-float", "T", _checkpoint("um", config=lambda c: c.update(types=2.5), mentions=("'types'",))),
    Case("um-config-hidden-negative", "T", _checkpoint("um", config=lambda c: c.update(hidden=-3))),
    Case("um-config-aggregator-options", "T", _checkpoint("um", config=lambda c: c.update(aggregator_options=5))),
    Case("um-config-encoder-options", "T", _checkpoint("um", config=lambda c: c.update(encoder_options="x"))),
    Case("um-config-encoder-state-outside", "X",
         _checkpoint("um", config=lambda c: c.update(encoder_state="../x.safetensors"))),
    Case("um-show-truncated", "T", _checkpoint("um", weights=lambda b: b[:100], command="show")),
    # ----- value-model checkpoints
    Case("vm-truncated", "T", _checkpoint("vm", weights=_half)),
    Case("vm-empty", "T", _checkpoint("vm", weights=b"")),
    Case("vm-garbage", "B", _checkpoint("vm", weights=b"garbage!" * 50)),
    Case("vm-nan", "B", _checkpoint("vm", tensors=_nan, mentions=("model.safetensors", "non-finite"))),
    Case("vm-wrong-shape", "B", _checkpoint("vm", tensors=_narrow, mentions=("model.safetensors", "config.json"))),
    Case("vm-extra-tensor", "B", _checkpoint("vm", tensors=_extra, mentions=("bogus",))),
    Case("vm-config-not-json", "B", _checkpoint("vm", config=b"{nope")),
    Case("vm-config-width-text", "T", _checkpoint("vm", config=lambda c: c.update(width="wide"), mentions=("'width'",))),
    Case("vm-config-width-edited", "B", _checkpoint("vm", config=lambda c: c.update(width=16),
                                                   mentions=("model.safetensors", "config.json"))),
    Case("vm-config-max-turns-negative", "T", _checkpoint("vm", config=lambda c: c.update(max_turns=-1))),
    Case("vm-config-dim-float", "T", _checkpoint("vm", config=lambda c: c.update(dim=2.5))),
    Case("vm-config-encoder-number", "T", _checkpoint("vm", config=lambda c: c.update(encoder=5))),
    Case("vm-config-encoder-unknown", "X", _checkpoint("vm", config=lambda c: c.update(encoder="nope"))),
    Case("vm-config-plugin-number", "X", _checkpoint("vm", config=lambda c: c.update(plugin=3))),
    # ----- trajectory.parquet on resume (T: corrupt, empty, 0-row, foreign)
    Case("trajectory-garbage", "T", _trajectory(b"garbage" * 10)),
    Case("trajectory-empty", "T", _trajectory(b"")),
    Case("trajectory-truncated", "T", _trajectory(_half)),
    Case("trajectory-tail-cut", "T", _trajectory(lambda b: b[:-10])),
    Case("trajectory-0-rows", "T", _trajectory(table=_empty_table)),
    Case("trajectory-foreign", "T", _trajectory(table=_foreign_table)),
    Case("trajectory-mistyped", "T", _trajectory(table=_mistyped_table)),
    # ----- session.json (T: invalid JSON, wrong types, missing keys; S: turns, images_per_prompt)
    Case("state-not-json", "T", _state_bytes(b"{nope")),
    Case("state-not-utf8", "T", _state_bytes(b'{"a": "\xff"}')),
    Case("state-empty", "T", _state_bytes(b"")),
    Case("state-list", "T", _state_bytes(b"[]")),
    Case("state-seed-text", "T", _state(lambda s: s.update(seed="x"), "'seed'")),
    Case("state-seed-negative", "T", _state(lambda s: s.update(seed=-5), "'seed'")),
    Case("state-seed-float", "T", _state(lambda s: s.update(seed=3.5), "'seed'")),
    Case("state-no-config", "T", _state(lambda s: s.pop("config"), "'config'")),
    Case("state-no-components", "T", _state(lambda s: s.pop("components"), "'components'")),
    Case("state-no-t2i", "T", _state(lambda s: s["components"].pop("t2i"), "t2i")),
    Case("state-components-text", "T", _state(lambda s: s.update(components="x"))),
    Case("state-component-name-number", "T", _state(lambda s: s["components"]["t2i"].update(name=5))),
    Case("state-component-options-list", "T", _state(lambda s: s["components"]["t2i"].update(options=[1]))),
    Case("state-component-unknown", "X", _state(lambda s: s["components"]["t2i"].update(name="nope"), "nope")),
    Case("state-component-bad-option", "X", _state(lambda s: s["components"]["t2i"].update(options={"size": "abc"}),
                                                   "size")),
    Case("state-config-list", "T", _state(lambda s: s.update(config=[1]))),
    Case("state-turns-huge", "S", _state(lambda s: s["config"].update(turns=10**9), "turns")),
    Case("state-turns-text", "T", _state(lambda s: s["config"].update(turns="5"), "turns")),
    Case("state-turns-below-answered", "S", _state(lambda s: s["config"].update(turns=2), "turns")),
    Case("state-images-per-prompt-edited", "S", _state(lambda s: s["config"].update(images_per_prompt=2),
                                                       "images_per_prompt")),
    Case("state-slate-size-edited", "S", _state(lambda s: s["config"].update(slate_size=3), "slate_size")),
    Case("state-config-unknown-key", "T", _state(lambda s: s["config"].update(bogus=1), "bogus")),
    Case("state-categories-text", "T", _state(lambda s: s["config"].update(categories="abcde"), "categories")),
    Case("state-categories-numbers", "T", _state(lambda s: s["config"].update(categories=[1, 2, 3, 4, 5]))),
    Case("state-reward-mode", "T", _state(lambda s: s["config"].update(reward_mode="x"), "reward_mode")),
    Case("state-prompt-number", "T", _state(lambda s: s.update(initial_prompt=5), "'initial_prompt'")),
    Case("state-prompt-edited", "X", _state(lambda s: s.update(initial_prompt="another prompt"))),
    Case("state-session-id-list", "T", _state(lambda s: s.update(session_id=["x"]), "'session_id'")),
    Case("state-user-type-text", "T", _state(lambda s: s.update(user_type="2"), "'user_type'")),
    Case("state-user-type-edited", "X", _state(lambda s: s.update(user_type=99), "user type")),
    Case("state-user-type-negative", "T", _state(lambda s: s.update(user_type=-1), "'user_type'")),
    Case("state-user-list", "T", _state(lambda s: s.update(user=[1]), "'user'")),
    Case("state-user-kind", "T", _state(lambda s: s.update(user={"kind": "robot"}), "user.kind")),
    Case("state-user-model-number", "T", _state(lambda s: s["user"].update(model=5), "user.model")),
    Case("state-user-options-text", "T", _state(lambda s: s["user"].update(options="x"), "user.options")),
    Case("state-user-model-unknown", "X", _state(lambda s: s["user"].update(model="nope"), "nope")),
    # ----- the command line
    Case("run-seed-negative", "T", _cli("run", "--user", "sim", "--seed", "-5", "--out", "{tmp}/o", mentions=("--seed",))),
    Case("run-seed-huge", "X", _cli("run", "--user", "sim", "--seed", str(2**64), "--out", "{tmp}/o", mentions=("--seed",))),
    Case("run-t2i-option-unknown", "T", _cli("run", "--user", "sim", "--t2i-option", "bogus=1", "--out", "{tmp}/o",
                                             mentions=("procedural", "bogus", "size"))),
    Case("run-t2i-option-mistyped", "T", _cli("run", "--user", "sim", "--t2i-option", "size=abc", "--out", "{tmp}/o",
                                              mentions=("procedural", "size"))),
    Case("run-t2i-option-out-of-range", "X", _cli("run", "--user", "sim", "--t2i-option", "size=5", "--out", "{tmp}/o",
                                                  mentions=("size",))),
    Case("run-generator-option-unknown", "X", _cli("run", "--user", "sim", "--generator-option", "bogus=1", "--out",
                                                   "{tmp}/o", mentions=("bogus",))),
    Case("run-selector-option-unknown", "X", _cli("run", "--user", "sim", "--selector-option", "bogus=1", "--out",
                                                  "{tmp}/o", mentions=("bogus",))),
    Case("run-user-model-option-unknown", "X", _cli("run", "--user", "sim", "--user-model-option", "bogus=1", "--out",
                                                    "{tmp}/o", mentions=("simple", "bogus"))),
    Case("run-user-model-option-mistyped", "X", _cli("run", "--user", "sim", "--user-model-option", "types=abc",
                                                     "--out", "{tmp}/o", mentions=("types",))),
    Case("run-option-without-value", "X", _cli("run", "--user", "sim", "--t2i-option", "size", "--out", "{tmp}/o",
                                               mentions=("--t2i-option",))),
    Case("run-out-is-a-file", "T", _with_file("f", b"x", "run", "--user", "sim", "--out", "{tmp}/f",
                                              mentions=("--out", "is a file"))),
    Case("run-out-inside-a-file", "T", _with_file("f", b"x", "run", "--user", "sim", "--out", "{tmp}/f/sub",
                                                  mentions=("--out",))),
    Case("run-prompt-not-utf8", "T", _cli("run", "--user", "sim", "--prompt",
                                          b"a \xff cat".decode("utf-8", "surrogateescape"), "--out", "{tmp}/o",
                                          mentions=("UTF-8",))),
    Case("run-prompt-empty", "S", _cli("run", "--user", "sim", "--prompt", "", "--out", "{tmp}/o",
                                       mentions=("--prompt",))),
    Case("run-prompt-blank", "S", _cli("run", "--user", "sim", "--prompt", "  ", "--out", "{tmp}/o",
                                       mentions=("--prompt",))),
    Case("run-prompt-control-characters", "X", _cli("run", "--user", "sim", "--prompt", "a\x1b[2Jcat", "--out",
                                                    "{tmp}/o", mentions=("--prompt", "control"))),
    Case("run-critique-not-utf8", "T", _human(b"1\n\xff\xfe bright\n")),
    Case("run-resume-missing", "X", _cli("run", "--resume", "{tmp}/nope", mentions=("session.json",))),
    Case("run-resume-a-file", "X", _with_file("f", b"x", "run", "--resume", "{tmp}/f", mentions=("session.json",))),
    Case("run-resume-other-generator", "S", _resume_with("--generator", "template")),
    Case("run-resume-other-t2i", "S", _resume_with("--t2i", "procedural")),
    Case("run-resume-other-turns", "S", _resume_with("--turns", "3")),
    Case("run-user-type-out-of-range", "X", _cli("run", "--user", "sim", "--user-type", "99", "--out", "{tmp}/o",
                                                 mentions=("user type",))),
    Case("run-user-type-negative", "X", _cli("run", "--user", "sim", "--user-type", "-1", "--out", "{tmp}/o",
                                             mentions=("--user-type",))),
    Case("run-turns-zero", "X", _cli("run", "--user", "sim", "--turns", "0", "--out", "{tmp}/o", mentions=("--turns",))),
    Case("run-unknown-t2i", "X", _cli("run", "--user", "sim", "--t2i", "nope", "--out", "{tmp}/o", mentions=("nope",))),
    Case("run-value-model-missing", "X", _cli("run", "--user", "sim", "--selector", "value", "--value-model",
                                              "{tmp}/nope", "--out", "{tmp}/o", mentions=("nope",))),
    Case("run-user-model-missing", "X", _cli("run", "--user", "sim", "--user-model", "{tmp}/nope", "--out", "{tmp}/o",
                                             mentions=("nope",))),
    Case("train-batch-size-0", "T", _cli(*_TRAIN, "--batch-size", "0", mentions=("--batch-size",))),
    Case("train-steps-0", "S", _cli(*_TRAIN, "--steps", "0", mentions=("--steps",))),
    Case("train-steps-negative", "X", _cli(*_TRAIN, "--steps", "-3", mentions=("--steps",))),
    Case("train-lr-0", "X", _cli(*_TRAIN, "--lr", "0", mentions=("--lr",))),
    Case("train-lr-nan", "X", _cli(*_TRAIN, "--lr", "nan", mentions=("--lr",))),
    Case("train-save-every-0", "X", _cli(*_TRAIN, "--save-every", "0", mentions=("--save-every",))),
    Case("train-data-corrupt", "B", _with_file("pap.parquet", b"junk", *_TRAIN, mentions=("pap.parquet",))),
    Case("train-trajectories-corrupt", "B", _with_file("t.parquet", b"junk", "user-model", "train", "--data",
                                                       "trajectories:{tmp}/t.parquet", "--out", "{tmp}/um",
                                                       mentions=("t.parquet",))),
    Case("value-train-data-corrupt", "B", _with_file("t.parquet", b"junk", "value", "train", "--data",
                                                     "{tmp}/t.parquet", "--out", "{tmp}/vm", mentions=("t.parquet",))),
    Case("value-train-data-foreign", "B", _value_train(_foreign_table)),
    Case("value-train-data-mistyped", "B", _value_train(_mistyped_table)),
    Case("serve-without-web-extra", "T", _serve_without_web),
    # ----- world files (T: non-UTF-8, reference_images = 0, satisfaction_noise = -1; S: types = 2.5)
    Case("world-not-utf8", "T", _world(_WORLD.encode() + b"# \xff\xfe\n", "UTF-8")),
    Case("world-not-toml", "X", _world("[world\n")),
    Case("world-types-float", "S", _world("[world]\ntypes = 2.5\n", "types")),
    Case("world-types-text", "X", _world("[world]\ntypes = 'x'\n", "types")),
    Case("world-types-0", "X", _world("[world]\ntypes = 0\n", "types")),
    Case("world-seed-negative", "X", _world("[world]\nseed = -1\n", "seed")),
    Case("world-reference-images-0", "T", _world(_WORLD + "[utility]\nreference_images = 0\n", "reference_images")),
    Case("world-image-size-0", "X", _world(_WORLD + "[utility]\nimage_size = 0\n", "image_size")),
    Case("world-satisfaction-noise-negative", "T", _world(_WORLD + "[raters]\nsatisfaction_noise = -1\n",
                                                          "satisfaction_noise")),
    Case("world-comparison-noise-negative", "X", _world(_WORLD + "[raters]\ncomparison_noise = -1\n",
                                                        "comparison_noise")),
    Case("world-comparison-margin-negative", "X", _world(_WORLD + "[raters]\ncomparison_margin = -1\n",
                                                         "comparison_margin")),
    Case("world-cuts-text", "X", _world(_WORLD + "[raters]\nsatisfaction_cuts = 'abcd'\n", "satisfaction_cuts")),
    Case("world-session-turns-0", "X", _world(_WORLD + "[sessions]\nturns = 0\n", "turns")),
    Case("world-session-count-0", "X", _world(_WORLD + "[sessions]\ncount = 0\n", "count")),
    Case("world-session-images-0", "X", _world(_WORLD + "[sessions]\nimages_per_prompt = 0\n", "images_per_prompt")),
    Case("world-pair-raters-negative", "X", _world(_WORLD + "[pairs]\nraters = -1\n", "raters")),
    Case("world-temperature-text", "X", _world("[world]\nchoice_temperature = 'hot'\n", "choice_temperature")),
    Case("world-temperature-nan", "X", _world("[world]\nchoice_temperature = nan\n", "choice_temperature")),
    Case("world-temperature-inf", "X", _world("[world]\nchoice_temperature = inf\n", "choice_temperature")),
    Case("world-prior-number", "X", _world("[world]\ntypes = 2\nprior = 5\n", "prior")),
    Case("world-fidelity-text", "X", _world(_WORLD + "[utility]\nfidelity = 'ab'\n", "fidelity")),
    Case("world-table-not-a-table", "X", _world("utility = 5\n" + _WORLD, "utility")),
    Case("world-attributes-number", "X", _world(_WORLD + "[utility]\nattributes = 5\n", "attributes")),
    Case("world-bench-quick-text", "X", _world(_WORLD + "[bench.quick]\nsessions = 'x'\n", "sessions")),
    Case("world-bench-em-steps-0", "X", _world(_WORLD + "[bench]\nem_steps = 0\n", "em_steps")),
    Case("world-bench-flag-text", "X", _world(_WORLD + "[bench]\nvalue_slate = 'false'\n", "value_slate")),
    Case("world-missing", "X", _cli("planted", "sessions", "--world", "{tmp}/nope.toml", "--out", "{tmp}/o", "-n", "1",
                                    mentions=("nope.toml",))),
    Case("world-of-the-planted-user-model", "S", _planted_user_model("[world]\ntypes = 2.5\n")),
    Case("prompt-file-not-utf8", "T", _with_file("prompts.txt", b"a cat\n\xff\xfe dog\n", "planted", "sessions",
                                                 "--out", "{tmp}/o", "-n", "1", "--no-images", "--prompts",
                                                 "{tmp}/prompts.txt", mentions=("prompts.txt", "UTF-8"))),
]
