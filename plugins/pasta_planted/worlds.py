"""A sampler of planted worlds: the many worlds the yardstick is judged on.

``pasta planted worlds --n N --seed S --out DIR`` writes N world files drawn from the
``world`` stream of root S (:mod:`pasta_core.streams`), so a set is a pure function of
(N, S) and sets of different roots share no world. World ``i`` draws:

- K* uniformly from 3 to 16;
- the choice temperature log-uniformly from 0.3 to 2;
- a uniform prior (even i) or a skewed one (odd i: Gamma(0.7) weights plus 0.1, so some
  types are several times as common as others): every set of two or more worlds has both;
- how much the types care about colour (brightness, saturation, warmth), style
  (texture, contrast) and composition (sky): one weight per group, log-uniform in
  [1/3, 3] (``[utility] attribute_weights``), and how much about fidelity to the intent
  (the ``[utility] fidelity`` range times a factor log-uniform in [1/4, 4]);
- the world's own seed (its tastes and fidelity weights).

Every file also carries the set-run sizes (:data:`SET_SIZES`, ``[bench]``) and the quick
ones (:data:`SET_QUICK`, ``[bench.quick]``): a set run trains K* models per world and
training seed, so its sizes are smaller than a single world's defaults. The tuning and
the report sets of docs/planted-world.md are two roots of this sampler.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pasta_core.streams import run_seed
from pasta_planted.config import UtilityConfig, parse_config
from pasta_planted.features import ATTRIBUTES

TYPES = (3, 16)
TEMPERATURES = (0.3, 2.0)
GROUP_WEIGHTS = (1 / 3, 3.0)
FIDELITY_FACTOR = (0.25, 4.0)
#: The attribute groups a world weighs differently.
GROUPS: dict[str, tuple[str, ...]] = {"colour": ("brightness", "saturation", "warmth"),
                                      "style": ("texture", "contrast"), "composition": ("sky",)}

#: Sizes and settings of a set run (``[bench]`` of every sampled world): see
#: docs/planted-world.md for the time budget the sizes were chosen for and the tuning-set
#: runs the EM settings (``em_dim``, ``em_lr``, ``em_weight_decay``) were chosen on.
SET_SIZES: dict[str, Any] = {
    "sessions": 500, "test_sessions": 200, "pair_raters": 100, "pairs_per_rater": 20, "em_steps": 400,
    "em_dim": 32, "em_lr": 0.003, "em_weight_decay": 1.0, "simulated": 300, "iql_steps": 1000,
    "value_slate_iql_share": 0.25, "episodes": 100, "planner": True,
    "distill_teacher": "user-model-slate", "distill_temperature": 0.0,
}
#: Sizes of ``--quick`` (CI: a set of two worlds with two training seeds in about 3 minutes).
SET_QUICK: dict[str, Any] = {
    "sessions": 60, "test_sessions": 24, "pair_raters": 12, "pairs_per_rater": 6, "em_steps": 40, "em_dim": 32,
    "simulated": 24, "iql_steps": 60, "value_slate_iql_share": 0.5, "episodes": 12, "planner": True,
}


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def sample_world(root: int, i: int) -> dict[str, Any]:
    """The TOML tables of world ``i`` of the set rooted at ``root`` (``[world]`` and
    ``[utility]``)."""
    rng = np.random.default_rng(run_seed(root, "world", i))
    types = int(rng.integers(TYPES[0], TYPES[1] + 1))
    temperature = round(_log_uniform(rng, *TEMPERATURES), 3)
    skewed = i % 2 == 1
    weights = rng.gamma(0.7, size=types) + 0.1
    prior: Any = [round(float(w), 3) for w in weights / weights.sum() * types] if skewed else "uniform"
    group = {name: round(_log_uniform(rng, *GROUP_WEIGHTS), 3) for name in GROUPS}
    attribute_weights = [group[next(g for g, members in GROUPS.items() if a in members)] for a in ATTRIBUTES]
    factor = _log_uniform(rng, *FIDELITY_FACTOR)
    low, high = UtilityConfig().fidelity
    seed = int(rng.integers(2**31 - 1))
    return {
        "world": {"seed": seed, "types": types, "choice_temperature": temperature, "prior": prior},
        "utility": {"attribute_weights": attribute_weights,
                    "fidelity": [round(low * factor, 4), round(high * factor, 4)]},
        "_drawn": {"group_weights": group, "fidelity_factor": round(factor, 4), "skewed_prior": skewed},
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def world_toml(tables: dict[str, Any], header: str = "") -> str:
    """A world file's text: ``[world]``, ``[utility]``, then the set sizes."""
    lines = [f"# {line}" for line in header.splitlines()]
    for name in ("world", "utility"):
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in tables[name].items()]
    lines += ["", "[bench]                    # set-run sizes (pasta_planted.worlds.SET_SIZES)"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in SET_SIZES.items()]
    lines += ["", "[bench.quick]              # --quick (pasta_planted.worlds.SET_QUICK)"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in SET_QUICK.items()]
    return "\n".join(lines) + "\n"


def write_worlds(n: int, root: int, out: str | Path) -> list[Path]:
    """Write worlds ``0..n-1`` of the set rooted at ``root`` to ``out`` (``world-NN.toml``)
    and a ``worlds.json`` manifest; every file is parsed back before it is kept."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths, manifest = [], []
    for i in range(n):
        tables = sample_world(root, i)
        text = world_toml(tables, f"World {i} of `pasta planted worlds --n {n} --seed {root}` "
                                  f"(docs/planted-world.md).\nDrawn: {json.dumps(tables['_drawn'])}")
        import tomllib

        parse_config(tomllib.loads(text), f"world {i}")  # a bad draw is an error here, not in a bench
        path = folder / f"world-{i:02d}.toml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
        manifest.append({"file": path.name, **{k: v for k, v in tables.items()}})
    (folder / "worlds.json").write_text(json.dumps({"sampler_seed": root, "n": n, "worlds": manifest}, indent=2))
    return paths


def world_files(folder: str | Path) -> list[Path]:
    """The world files of a set folder, in order."""
    from pasta_core.errors import InvalidValueError

    paths = sorted(Path(folder).glob("*.toml"))
    if not paths:
        raise InvalidValueError(f"no world files (*.toml) in {folder}; make a set with `pasta planted worlds`")
    return paths
