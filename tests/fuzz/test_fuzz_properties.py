"""Property-based fuzzing (Hypothesis) of the file readers and the command line.

For any input drawn here, a reader either accepts it or refuses it with a
:class:`~pasta_core.errors.PastaError` naming the file (never another exception), and a
command either succeeds or ends in one line (:func:`tests.fuzz.harness.assert_refused`:
non-zero exit, one line, no traceback, no file that was there changed).

- checkpoint bytes: cut, overwritten (mostly in the header) or replaced, for the clip-em
  and the embedded value model; what loads holds only finite weights;
- trajectory Parquet bytes, the same mutations, read as a session's file;
- ``session.json``: any key set to any JSON value or removed, met by ``pasta run --resume``;
- world files: any key of any table set to any TOML value;
- ``pasta run`` with random values of its options, and factories with random options.

Example counts are modest, to keep the suite quick; ``PASTA_FUZZ_SCALE=N`` multiplies them
for a longer search. Each example draws its own temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pasta_core.errors import PastaError
from tests.fuzz.harness import assert_refused, run_pasta, snapshot

#: Multiplies every test's example count (``PASTA_FUZZ_SCALE=20`` for a long search).
SCALE = max(1, int(os.environ.get("PASTA_FUZZ_SCALE", "1")))
_FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ----- byte mutations of a file ---------------------------------------------------------------

mutations = st.one_of(
    st.tuples(st.just("cut"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("overwrite"), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                             min_size=1, max_size=8), st.booleans()),
    st.tuples(st.just("replace"), st.binary(max_size=600)),
)


def mutate(data: bytes, mutation: tuple) -> bytes:
    """``data`` cut at a fraction, with bytes overwritten (in its first 2 kB if the flag
    is set: the header), or replaced."""
    if mutation[0] == "cut":
        return data[: int(len(data) * mutation[1])]
    if mutation[0] == "replace":
        return mutation[1]
    out = bytearray(data)
    span = min(len(out), 2048) if mutation[2] else len(out)
    for where, value in mutation[1]:
        out[int(span * where)] = value
    return bytes(out)


def _scratch(src: Path) -> tuple[tempfile.TemporaryDirectory, Path]:
    holder = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
    return holder, Path(shutil.copytree(src, Path(holder.name) / src.name))


@settings(_FAST, max_examples=40 * SCALE)
@given(kind=st.sampled_from(["user-model", "value-model"]), mutation=mutations)
def test_a_damaged_checkpoint_loads_finite_or_is_refused_naming_it(samples, kind, mutation):
    import torch

    from pasta_core import get_plugins

    holder, folder = _scratch(samples.user_model if kind == "user-model" else samples.value_model)
    with holder:
        weights = folder / "model.safetensors"
        weights.write_bytes(mutate(weights.read_bytes(), mutation))
        try:
            model = get_plugins().load(kind, str(folder))
        except PastaError as error:
            assert str(folder) in str(error)
            return
        module = model.model if kind == "user-model" else model.module
        assert all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point())


@settings(_FAST, max_examples=40 * SCALE)
@given(mutation=mutations)
def test_a_damaged_trajectory_file_reads_or_is_refused_naming_it(samples, mutation):
    from pasta_core.errors import SessionError
    from pasta_core.store import read_trajectories

    holder, folder = _scratch(samples.session)
    with holder:
        path = folder / "trajectory.parquet"
        path.write_bytes(mutate(path.read_bytes(), mutation))
        try:
            list(read_trajectories(path))
        except SessionError as error:
            assert str(path) in str(error)


# ----- session.json ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.integers(-3, 60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
STATE_KEYS = ["seed", "session_id", "initial_prompt", "user_type", "user", "user.kind", "user.model", "user.options",
              "config", "config.turns", "config.slate_size", "config.images_per_prompt",
              "config.candidates_per_category", "config.categories", "config.word_cap", "config.reward_mode",
              "components", "components.t2i", "components.t2i.name", "components.t2i.options",
              "components.generator.options", "components.selector.name", "components.selector"]


def _edit(state: dict, key: str, value: object, remove: bool) -> None:
    *parents, last = key.split(".")
    target = state
    for name in parents:
        target = target[name]
    if remove:
        target.pop(last, None)
    else:
        target[last] = value


@settings(_FAST, max_examples=30 * SCALE)
@given(edits=st.lists(st.tuples(st.sampled_from(STATE_KEYS), json_values, st.booleans()), min_size=1, max_size=3))
def test_any_edit_of_session_json_resumes_or_is_refused_in_one_line(samples, edits):
    holder, folder = _scratch(samples.session)
    with holder:
        state = json.loads((folder / "session.json").read_text())
        for key, value, remove in edits:
            try:
                _edit(state, key, value, remove)
            except (KeyError, TypeError, IndexError, AttributeError):
                pass  # a parent was replaced by an earlier edit
        (folder / "session.json").write_text(json.dumps(state))
        before = snapshot(folder)
        result = run_pasta(["run", "--resume", str(folder)])
        if result.escaped is None and (result.code == 0 or (result.code == 130 and len(result.lines) == 1
                                                            and result.lines[0].startswith("Stopped"))):
            return  # resumed (to the end, or until a person, with no more input, left: one line says where)
        line = assert_refused(result, before)
        assert "session.json" in line or "trajectory.parquet" in line, line


# ----- world files ----------------------------------------------------------------------------

def _world_fields() -> list[tuple[str, str]]:
    from pasta_planted.config import (
        BenchConfig,
        PairsConfig,
        RaterConfig,
        SessionsConfig,
        UtilityConfig,
        WorldConfig,
    )

    tables = {"world": WorldConfig, "utility": UtilityConfig, "raters": RaterConfig, "sessions": SessionsConfig,
              "pairs": PairsConfig, "bench": BenchConfig, "bench.quick": BenchConfig}
    return [(table, f.name) for table, cls in tables.items() for f in attrs.fields(cls)]


toml_scalars = (st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.booleans()
                | st.text(st.characters(blacklist_categories=("Cs",)), max_size=10))
toml_values = toml_scalars | st.lists(toml_scalars, max_size=5)


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, str):  # a TOML basic string: JSON's escapes, and DEL escaped too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return str(value)


@settings(_FAST, max_examples=120 * SCALE)
@given(field=st.sampled_from(_world_fields()), value=toml_values)
def test_any_world_file_value_parses_or_is_refused_naming_the_key(field, value):
    from pasta_planted.config import load_config

    table, key = field
    text = f"[world]\nseed = 1\n\n[{table}]\n{key} = {toml(value)}\n" if table != "world" else f"[world]\n{key} = {toml(value)}\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "world.toml"
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path)
        except PastaError as error:
            assert str(path) in str(error) and (key in str(error) or "prior" in str(error)), str(error)
            return
    section = config.quick if table == "bench.quick" else getattr(config, table)
    parsed = getattr(section, key)
    if isinstance(parsed, int) and not isinstance(parsed, bool):
        assert parsed >= 0, (key, parsed)
    if isinstance(parsed, float):
        assert math.isfinite(parsed), (key, parsed)


# ----- the command line and the factories -----------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=16) | st.sampled_from(
    ["", " ", "a\x00b", "\x1b[2J", "a cat", "-1", "0", "1e3", "nan", b"\xff".decode("utf-8", "surrogateescape")])
_SMALL = st.integers(-3, 3).map(str) | st.integers(51, 2**70).map(str) | _TEXT
_OPTION = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["size", "bogus", "types", "seed", "model", ""]) | _TEXT,
                    st.sampled_from(["abc", "0", "31", "64", "-1", "", "1e3", "2049"]) | _TEXT)
run_options = st.lists(st.one_of(
    st.tuples(st.sampled_from(["--turns", "--slate-size", "--images", "--user-type"]), _SMALL),
    st.tuples(st.just("--seed"), st.integers(-(2**70), 2**70).map(str) | _TEXT),
    st.tuples(st.sampled_from(["--reward", "--generator", "--t2i", "--selector", "--prompt", "--user-model"]),
              _TEXT | st.sampled_from(["template", "procedural", "random", "first", "simple", "dense"])),
    st.tuples(st.sampled_from(["--t2i-option", "--generator-option", "--selector-option", "--user-model-option"]),
              _OPTION),
), min_size=1, max_size=4)


@settings(_FAST, max_examples=40 * SCALE)
@given(options=run_options)
def test_pasta_run_with_any_option_values_succeeds_or_ends_in_one_line(options):
    argv = ["run", "--user", "sim", "--turns", "1", "--images", "1", "--t2i-option", "size=32"]
    for flag, value in options:
        argv += [flag, value]
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        (Path(folder) / "kept.txt").write_text("a file that was there before")
        before = snapshot(Path(folder))
        result = run_pasta([*argv, "--out", str(Path(folder) / "runs")])
        if result.code == 0 and result.escaped is None:
            return
        assert_refused(result, before)


factory_values = st.none() | st.booleans() | st.integers(-5, 300) | st.floats() | _TEXT


@settings(_FAST, max_examples=60 * SCALE)
@given(component=st.sampled_from([("t2i", "procedural"), ("generator", "template"), ("selector", "random"),
                                   ("selector", "first"), ("user-model", "simple"), ("aggregator", "softmax"),
                                   ("aggregator", "max"), ("aggregator", "mean")]),
       options=st.dictionaries(st.sampled_from(["size", "types", "seed", "choice_scale", "aggregator", "temperature",
                                                "bogus", "x"]), factory_values, max_size=3))
def test_a_factory_given_any_options_builds_or_raises_a_pasta_error(component, options):
    import warnings

    from pasta_core import get_plugins

    kind, name = component
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            get_plugins().create(kind, name, **options)
        except PastaError as error:  # one line that names the component or the option it refused
            message = str(error)
            assert "\n" not in message and any(text in message for text in (name, kind, *options)), message


@pytest.mark.parametrize("kind", ["user-model", "value-model"])
def test_the_mutations_reach_every_check(samples, kind):
    """The byte mutations are not all harmless: each kind of damage is refused."""
    from pasta_core import get_plugins

    for mutation in [("cut", 0.5), ("replace", b""), ("replace", b"\x01" * 64), ("overwrite", [(0.0, 255)], True)]:
        holder, folder = _scratch(samples.user_model if kind == "user-model" else samples.value_model)
        with holder:
            weights = folder / "model.safetensors"
            weights.write_bytes(mutate(weights.read_bytes(), mutation))
            with pytest.raises(PastaError, match="model.safetensors"):
                get_plugins().load(kind, str(folder))


train_options = st.lists(st.tuples(
    st.sampled_from(["--steps", "--batch-size", "--save-every", "--seed", "--split-every", "--types", "--lr",
                     "--encoder-lr", "--grad-clip", "--phase", "--satisfaction", "--metrics"]),
    st.integers(-(2**65), 2**65).map(str) | st.floats().map(str) | _TEXT), min_size=1, max_size=4)


@settings(_FAST, max_examples=40 * SCALE)
@given(options=train_options)
def test_user_model_train_with_any_option_values_ends_in_one_line(options):
    """Whatever the values, the data file is missing: a refusal in one line either way, and
    nothing is written (no checkpoint without training)."""
    with tempfile.TemporaryDirectory() as folder:
        argv = ["user-model", "train", "--data", f"pickapic:{folder}/missing.parquet", "--out", f"{folder}/um"]
        for flag, value in options:
            argv += [flag, value]
        assert_refused(run_pasta(argv), {})
        assert not (Path(folder) / "um" / "model.safetensors").exists()
