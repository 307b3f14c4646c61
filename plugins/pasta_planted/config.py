"""The planted world's settings, read from a TOML file (see docs/planted-world.md).

``[world]`` (seed, types K*, choice_temperature, prior) is the population; ``[utility]``
shapes each type's utility; ``[raters]`` the human-like rater answers; ``[sessions]`` and
``[pairs]`` the sizes of the generated human-like data; ``[bench]`` the sizes of
``pasta bench planted`` (``[bench.quick]`` overrides them under ``--quick``). Every table
but ``[world]`` is optional.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError
from pasta_planted.features import ATTRIBUTES


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise InvalidValueError(f"{attribute.name} must be positive, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise InvalidValueError(f"{attribute.name} must be 0 or more, got {value!r}")


def _prior(value: Any) -> Any:
    if isinstance(value, str):
        if value != "uniform":
            raise InvalidValueError(f'prior must be "uniform" or a list of K* weights, got {value!r}')
        return value
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise InvalidValueError(f'prior must be "uniform" or a list of K* weights, got {value!r}')
    return tuple(float(v) for v in value)


@attrs.frozen
class WorldConfig:
    """``[world]``: the population, its prior and how sharply each type chooses.

    P(column c | type k) = softmax_c( R_k(c) / choice_temperature ).
    """

    seed: int = attrs.field(default=0, converter=int)
    types: int = attrs.field(default=8, converter=int)
    choice_temperature: float = attrs.field(default=0.15, converter=float, validator=_positive)
    prior: Any = attrs.field(default="uniform", converter=_prior)

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.types <= 64:
            raise InvalidValueError(f"[world] types must be 1..64, got {self.types}")
        if not isinstance(self.prior, str):
            if len(self.prior) != self.types or min(self.prior) < 0 or sum(self.prior) <= 0:
                raise InvalidValueError(
                    f"[world] prior needs {self.types} non-negative weights (one per type), got {list(self.prior)}"
                )


@attrs.frozen
class UtilityConfig:
    """``[utility]``: u_k(p0, I) = taste_k . z(I) - fidelity_k * mean_j (z_j(I) - z_j(p0))^2.

    z are the standardized measured attributes listed in ``attributes``; taste vectors have
    length ``taste_scale``; each type's fidelity weight is drawn uniformly from
    ``fidelity``; the intent's reference z(p0) is the mean over ``reference_images`` renders
    of the initial prompt at ``image_size`` pixels. ``aggregator`` turns the M image
    utilities of a column into the column utility (``max``: the best image decides).
    ``attribute_weights`` (one per attribute; empty: all 1) stretch each taste direction
    along the attributes before it is scaled back to length ``taste_scale``, so a world
    can care more about colour than about composition or style.
    """

    attributes: tuple[str, ...] = attrs.field(default=ATTRIBUTES, converter=tuple)
    attribute_weights: tuple[float, ...] = attrs.field(default=(), converter=lambda v: tuple(float(x) for x in v))
    taste_scale: float = attrs.field(default=1.0, converter=float, validator=_positive)
    fidelity: tuple[float, float] = attrs.field(default=(0.1, 0.4), converter=tuple)
    aggregator: str = "max"
    reference_images: int = attrs.field(default=4, converter=int)
    image_size: int = attrs.field(default=64, converter=int)

    def __attrs_post_init__(self) -> None:
        unknown = set(self.attributes) - set(ATTRIBUTES)
        if unknown or not self.attributes:
            raise InvalidValueError(f"[utility] attributes must be among {list(ATTRIBUTES)}, got {sorted(unknown)}")
        if len(self.fidelity) != 2 or not 0 <= self.fidelity[0] <= self.fidelity[1]:
            raise InvalidValueError(f"[utility] fidelity is a range [low, high], got {list(self.fidelity)}")
        if self.attribute_weights and (len(self.attribute_weights) != len(self.attributes)
                                       or min(self.attribute_weights) <= 0):
            raise InvalidValueError(f"[utility] attribute_weights needs {len(self.attributes)} positive values "
                                    f"(one per attribute), got {list(self.attribute_weights)}")


@attrs.frozen
class RaterConfig:
    """``[raters]``: how a planted rater answers besides choosing.

    Satisfaction (1-5) of a column: its utility plus Gaussian noise (``satisfaction_noise``),
    cut at ``satisfaction_cuts``. Comparison with the previous turn: the chosen column's
    utility minus the previous chosen one's, plus noise (``comparison_noise``); within
    +-``comparison_margin`` it is "same".
    """

    satisfaction_noise: float = attrs.field(default=0.25, converter=float, validator=_non_negative)
    satisfaction_cuts: tuple[float, ...] = attrs.field(default=(-1.0, -0.3, 0.3, 1.0), converter=tuple)
    comparison_noise: float = attrs.field(default=0.1, converter=float, validator=_non_negative)
    comparison_margin: float = attrs.field(default=0.1, converter=float, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if len(self.satisfaction_cuts) != 4 or list(self.satisfaction_cuts) != sorted(self.satisfaction_cuts):
            raise InvalidValueError("[raters] satisfaction_cuts needs 4 increasing values (5 levels)")


@attrs.frozen
class SessionsConfig:
    """``[sessions]``: human-like multi-turn sessions (one planted rater each)."""

    count: int = attrs.field(default=1000, converter=int)
    turns: int = attrs.field(default=5, converter=int)
    slate_size: int = attrs.field(default=4, converter=int)
    images_per_prompt: int = attrs.field(default=4, converter=int)


@attrs.frozen
class PairsConfig:
    """``[pairs]``: single-turn preference pairs in Pick-a-Pic's format."""

    raters: int = attrs.field(default=300, converter=int)
    pairs_per_rater: int = attrs.field(default=20, converter=int)
    tie_margin: float = attrs.field(default=0.05, converter=float, validator=_non_negative)


#: Reference agents the bench may add beside the oracle (``[bench] references``).
REFERENCE_AGENTS = ("posterior", "posterior-slate", "greedy-oracle")
#: Agents the distill stage may distill (``[bench] distill_teacher``).
DISTILL_TEACHERS = ("value-mixed", "user-model-slate")
#: Rewards the value models may train on (``pasta_value.rewards.TRAINING_REWARDS``).
IQL_REWARDS = ("sparse", "dense", "shaped")
#: Text encoders of the ``embedded`` value model (``pasta_value.embedding.ENCODERS``).
VALUE_ENCODERS = ("words", "minilm", "hash")


@attrs.frozen
class BenchConfig:
    """``[bench]``: sizes of ``pasta bench planted`` (``[bench.quick]`` for ``--quick``).

    User-model stage: ``em_satisfaction`` is the clip-em likelihood of the raters' 1-5
    scores (``gaussian`` or ``ordinal``, :class:`pasta_clip_em.config.ModelConfig`);
    ``em_lr``, ``em_batch`` (samples per step) and ``em_weight_decay`` are the EM
    optimiser's (:class:`pasta_clip_em.em.TrainConfig`), ``em_hidden`` the width of the
    model's offset MLPs (0: ``em_dim``) and ``em_score_scale`` the initial factor on its
    cosines (:class:`pasta_clip_em.config.ModelConfig`); ``em_validation`` > 0 holds that
    share of the training sessions back and keeps the model of their lowest marginal NLL,
    measured every ``em_validate_every`` steps (early stopping).
    Value stage: ``value_encoder`` / ``value_dim`` / ``value_width`` / ``value_edit`` build
    the ``embedded`` value model (``words``: a hashed bag of words, no model to load;
    ``value_edit``: its candidate tower also reads what the expansion changes); ``iql_*`` are its IQL
    settings, ``iql_rewards`` their rewards (``sparse``, the paper's main setting, ``dense``
    or ``shaped``: :mod:`pasta_value.rewards`). Agents: ``references`` are extra
    reference agents that know the planted model but not the type (``posterior``: ranks
    candidates by posterior-expected utility; ``posterior-slate``: picks the slate of
    highest posterior-expected utility of the chosen column). ``value_slate`` adds the
    ``value-slate-mixed`` agent: one value model per learned user type (IQL on the mixed
    regime's sessions of that type) and the learned user model's posterior, the slate judged
    as a whole (:mod:`pasta_value.slate`; ``value_slate_temperature`` its choice temperature,
    ``value_slate_iql_share`` the share of ``iql_steps`` each per-type model trains for).
    ``value_center_rewards`` takes from each session's final reward the mean final reward
    of its user type (in its regime) before the one-model regimes train: a per-type shift
    changes no choice, so it is noise to a value model that does not see the type.
    ``planner`` adds the ``user-model-slate`` agent: no value model, the slate planned with
    the learned user model's own utilities, posterior and choice model, each candidate
    rendered ``planner_images`` times (:mod:`pasta_value.planner`; a distill stage whose
    teacher it is adds it too). ``distill`` adds the distillation stage and the ``distilled`` agent
    (:mod:`pasta_planted.bench_distill`; ``pasta bench planted --distill``): pairs from the
    human-like sessions and ``distill_simulated`` sessions the teacher plays, the compact
    model trained for ``distill_steps``, latency over ``distill_latency_histories`` turns
    (and against the MiniLM value model when ``distill_latency_minilm``); ``distill_teacher``
    the agent distilled: ``value-mixed`` (the paper's) or ``user-model-slate`` (the planner);
    ``distill_temperature`` the distilled model's sampling temperature (0: its most likely slate).
    """

    sessions: int = attrs.field(default=2000, converter=int)
    test_sessions: int = attrs.field(default=500, converter=int)
    pair_raters: int = attrs.field(default=400, converter=int)
    pairs_per_rater: int = attrs.field(default=20, converter=int)
    em_steps: int = attrs.field(default=900, converter=int)
    em_dim: int = attrs.field(default=96, converter=int)
    em_satisfaction: str = attrs.field(default="gaussian")
    em_lr: float = attrs.field(default=1e-3, converter=float, validator=_positive)
    em_batch: int = attrs.field(default=64, converter=int)
    em_weight_decay: float = attrs.field(default=1e-2, converter=float, validator=_non_negative)
    em_hidden: int = attrs.field(default=0, converter=int, validator=_non_negative)
    em_score_scale: float = attrs.field(default=100.0, converter=float, validator=_positive)
    em_validation: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    em_validate_every: int = attrs.field(default=50, converter=int)
    simulated: int = attrs.field(default=1000, converter=int)
    iql_steps: int = attrs.field(default=3000, converter=int)
    iql_lr: float = attrs.field(default=1e-2, converter=float, validator=_positive)
    iql_batch: int = attrs.field(default=128, converter=int)
    iql_target_update: int = attrs.field(default=256, converter=int)
    iql_rewards: str = attrs.field(default="sparse")
    value_encoder: str = attrs.field(default="words")
    value_dim: int = attrs.field(default=256, converter=int)
    value_width: int = attrs.field(default=256, converter=int)
    value_edit: bool = attrs.field(default=False, converter=bool)
    episodes: int = attrs.field(default=1000, converter=int)
    image_size: int = attrs.field(default=64, converter=int)
    oracle_images: int = attrs.field(default=1, converter=int)
    references: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    value_slate: bool = attrs.field(default=True, converter=bool)
    value_slate_temperature: float = attrs.field(default=0.2, converter=float)
    value_slate_iql_share: float = attrs.field(default=1.0, converter=float)
    value_center_rewards: bool = attrs.field(default=False, converter=bool)
    planner: bool = attrs.field(default=False, converter=bool)
    planner_images: int = attrs.field(default=4, converter=int)
    held_out_prompts: float = attrs.field(default=0.3, converter=float)
    evaluation_seed: int = attrs.field(default=0, converter=int)
    distill: bool = attrs.field(default=False, converter=bool)
    distill_simulated: int = attrs.field(default=300, converter=int)
    distill_steps: int = attrs.field(default=1500, converter=int)
    distill_latency_histories: int = attrs.field(default=200, converter=int)
    distill_latency_minilm: bool = attrs.field(default=True, converter=bool)
    distill_teacher: str = attrs.field(default="value-mixed")
    distill_temperature: float = attrs.field(default=1.0, converter=float)

    def __attrs_post_init__(self) -> None:
        if not 0 < self.held_out_prompts < 1:
            raise InvalidValueError(f"held_out_prompts must be in (0, 1), got {self.held_out_prompts}")
        if self.value_slate_temperature < 0:
            raise InvalidValueError(f"value_slate_temperature must be >= 0, got {self.value_slate_temperature}")
        if self.em_satisfaction not in ("gaussian", "ordinal"):
            raise InvalidValueError(f"em_satisfaction must be gaussian or ordinal, got {self.em_satisfaction!r}")
        if not 0 < self.value_slate_iql_share <= 1:
            raise InvalidValueError(f"value_slate_iql_share must be in (0, 1], got {self.value_slate_iql_share}")
        if self.planner_images < 1:
            raise InvalidValueError(f"planner_images must be >= 1, got {self.planner_images}")
        if self.em_batch < 1 or self.em_validate_every < 1:
            raise InvalidValueError(f"em_batch and em_validate_every must be >= 1, got {self.em_batch}, "
                                    f"{self.em_validate_every}")
        if not self.em_validation < 1:
            raise InvalidValueError(f"em_validation must be in [0, 1), got {self.em_validation}")
        if not (math.isfinite(self.em_lr) and math.isfinite(self.em_score_scale)):
            raise InvalidValueError(f"em_lr and em_score_scale must be finite, got {self.em_lr}, {self.em_score_scale}")
        if not 0 <= self.distill_temperature <= 10:
            raise InvalidValueError(f"distill_temperature must be in [0, 10], got {self.distill_temperature}")
        if self.distill_teacher not in DISTILL_TEACHERS:
            raise InvalidValueError(f"distill_teacher must be one of {list(DISTILL_TEACHERS)}, "
                                    f"got {self.distill_teacher!r}")
        if self.iql_rewards not in IQL_REWARDS:
            raise InvalidValueError(f"iql_rewards must be one of {list(IQL_REWARDS)}, got {self.iql_rewards!r}")
        if self.value_encoder not in VALUE_ENCODERS:
            raise InvalidValueError(f"value_encoder must be one of {list(VALUE_ENCODERS)}, got {self.value_encoder!r}")
        unknown = set(self.references) - set(REFERENCE_AGENTS)
        if unknown:
            raise InvalidValueError(f"references must be among {list(REFERENCE_AGENTS)}, got {sorted(unknown)}")


@attrs.frozen
class PlantedConfig:
    """Every table of a world file."""

    world: WorldConfig = WorldConfig()
    utility: UtilityConfig = UtilityConfig()
    raters: RaterConfig = RaterConfig()
    sessions: SessionsConfig = SessionsConfig()
    pairs: PairsConfig = PairsConfig()
    bench: BenchConfig = BenchConfig()
    quick: BenchConfig = BenchConfig(
        sessions=100, test_sessions=40, pair_raters=30, pairs_per_rater=8, em_steps=100, em_dim=32,
        simulated=30, iql_steps=200, episodes=30, oracle_images=1, distill=True, distill_simulated=10,
        distill_steps=40, distill_latency_histories=20, distill_latency_minilm=False,
    )
    source: str = attrs.field(default="<defaults>", eq=False)


_TABLES = {"world": WorldConfig, "utility": UtilityConfig, "raters": RaterConfig,
           "sessions": SessionsConfig, "pairs": PairsConfig}


#: Ranges of a world file's integers other than the usual at least 1 (seeds at least 0):
#: the renderer's and ``pasta run``'s sizes, and ``em_hidden`` (0: ``em_dim``).
_RANGES = {"em_hidden": (0, None), "image_size": (32, 2048), "turns": (1, 50), "slate_size": (1, 16), "images_per_prompt": (1, 16)}


def _check_value(name: str, kind: str, value: Any, where: str) -> None:
    """Refuse a value of a world file that is not of its field's type (``types = 2.5``,
    ``seed = "x"``, ``value_slate = "false"``), not finite, or an int out of range:
    counts and sizes are at least 1 (seeds at least 0)."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if kind.startswith("int"):
        ok, words = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif kind.startswith("float"):
        ok, words = number(value), "a finite number"
    elif kind.startswith("bool"):
        ok, words = isinstance(value, bool), "true or false"
    elif kind.startswith("str"):
        ok, words = isinstance(value, str), "a string"
    elif kind.startswith("tuple"):
        item = number if "float" in kind else (lambda v: isinstance(v, str))
        ok = isinstance(value, list) and all(item(v) for v in value)
        words = f"a list of {'numbers' if 'float' in kind else 'strings'}"
    else:
        return
    if not ok:
        raise InvalidValueError(f"{where} {name} must be {words}, got {value!r}")
    if kind.startswith("int"):
        low, high = _RANGES.get(name, (0 if name.endswith("seed") else 1, None))
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f"at least {low}"
            raise InvalidValueError(f"{where} {name} must be {bound}, got {value}")


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    if not isinstance(table, dict):
        raise InvalidValueError(f"{where} must be a table of keys, got {table!r}")
    fields = {f.name: str(f.type) for f in attrs.fields(cls)}
    unknown = set(table) - set(fields)
    if unknown:
        raise InvalidValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(fields)}")
    for name, value in table.items():
        _check_value(name, fields[name], value, where)
    try:
        return cls(**table)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"{where}: {exc}") from exc


def parse_config(data: dict[str, Any], source: str = "<dict>") -> PlantedConfig:
    """A :class:`PlantedConfig` from parsed TOML."""
    if "world" not in data:
        raise InvalidValueError(f"{source}: a world file needs a [world] table (seed, types, ...)")
    unknown = set(data) - set(_TABLES) - {"bench"}
    if unknown:
        raise InvalidValueError(f"{source}: unknown tables {sorted(unknown)}")
    parts = {name: _build(cls, data.get(name, {}), f"{source} [{name}]") for name, cls in _TABLES.items()}
    if not isinstance(data.get("bench", {}), dict):
        raise InvalidValueError(f"{source} [bench] must be a table of keys, got {data['bench']!r}")
    bench = dict(data.get("bench", {}))
    quick = bench.pop("quick", {})
    default = PlantedConfig()
    parts["bench"] = _build(BenchConfig, bench, f"{source} [bench]")
    _build(BenchConfig, quick, f"{source} [bench.quick]")  # validates the keys
    parts["quick"] = attrs.evolve(default.quick, **quick)
    return PlantedConfig(**parts, source=source)


def load_config(path: str | Path | None = None) -> PlantedConfig:
    """Read a world file; ``None`` gives the packaged example world."""
    if path is None:
        text = resources.files("pasta_planted").joinpath("world.toml").read_text(encoding="utf-8")
        return parse_config(tomllib.loads(text), "pasta_planted/world.toml")
    path = Path(path)
    if not path.is_file():
        raise InvalidValueError(f"no world file at {path}; start from docs/examples/world.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValueError(f"{path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidValueError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise InvalidValueError(f"cannot read the world file {path}: {exc.strerror or exc}") from None
    return parse_config(data, str(path))


def example_world_path() -> Path:
    """The packaged example world file."""
    return Path(str(resources.files("pasta_planted").joinpath("world.toml")))
