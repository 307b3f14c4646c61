"""Settings of a CLIP-EM user model (saved as ``config.json`` in its checkpoint folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from pasta_core.atomic import write_text
from pasta_core.errors import InvalidValueError

PLUGIN_NAME = "clip-em"
MAX_TYPES = 64
#: Likelihoods of the raters' 1-5 column scores (``ModelConfig.satisfaction``).
SATISFACTION_LIKELIHOODS = ("gaussian", "ordinal")
#: Settings renamed since checkpoints were first written: old name -> new name.
LEGACY_NAMES = {"temperature": "score_scale"}


def _types(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if not 1 <= value <= MAX_TYPES:
        raise InvalidValueError(f"types (K) must be 1..{MAX_TYPES}, got {value}")


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise InvalidValueError(f"{attribute.name} must be positive, got {value}")


def _likelihood(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in SATISFACTION_LIKELIHOODS:
        raise InvalidValueError(f"satisfaction must be one of {list(SATISFACTION_LIKELIHOODS)}, got {value!r}")


@attrs.define
class ModelConfig:
    """The score model: K user types over an encoder's embeddings of size ``dim``.

    ``hidden`` is the width of the 4-layer offset MLPs (default: ``dim``); ``score_scale``
    the initial factor that multiplies the cosine (CLIP's logit scale; learned, and saved
    as ``temperature`` by earlier versions); ``offset_init`` the scale of the random initial offsets
    (non-zero so that the types can separate under EM). ``encoder_state`` names the file
    in the checkpoint folder holding fine-tuned encoder weights ("" : the encoder as built
    from ``encoder`` and ``encoder_options``, i.e. frozen). ``satisfaction`` is the
    likelihood of a rater's 1-5 column score: ``gaussian`` on (score - 3) / 2, or
    ``ordinal`` (ordered probit: the score is the bin of a R + noise between 4 learned cut
    points).
    """

    dim: int = attrs.field(converter=int, validator=_positive)
    types: int = attrs.field(default=8, converter=int, validator=_types)
    hidden: int = attrs.field(default=0, converter=int)
    score_scale: float = attrs.field(default=100.0, converter=float, validator=_positive)
    offset_init: float = attrs.field(default=0.1, converter=float)
    aggregator: str = "softmax"
    aggregator_options: dict[str, Any] = attrs.field(factory=dict)
    encoder: str = "embedded"
    encoder_options: dict[str, Any] = attrs.field(factory=dict)
    encoder_state: str = ""
    satisfaction: str = attrs.field(default="gaussian", validator=_likelihood)

    @property
    def width(self) -> int:
        return self.hidden or self.dim

    def build_aggregator(self, plugins: Any) -> Any:
        """The column aggregator this model uses, built from ``plugins`` (a
        :class:`~pasta_core.plugins.Plugins` set)."""
        return plugins.create("aggregator", self.aggregator, **self.aggregator_options)

    def to_json(self) -> dict[str, Any]:
        return {"plugin": PLUGIN_NAME, **attrs.asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in attrs.fields(cls)}
        data = {LEGACY_NAMES.get(k, k): v for k, v in data.items()}
        return cls(**{k: v for k, v in data.items() if k in names})

    def save(self, folder: str | Path, **extra: Any) -> None:
        write_text(Path(folder) / "config.json", json.dumps({**self.to_json(), **extra}, indent=2, sort_keys=True))

    @classmethod
    def load(cls, folder: str | Path) -> ModelConfig:
        """The config of a checkpoint folder; a missing, unreadable, foreign or wrongly
        typed ``config.json`` is refused naming the file and the key."""
        from pasta_checkpoints import CheckpointError, check_fields, read_json_config

        path = Path(folder) / "config.json"
        if not path.is_file():
            raise InvalidValueError(f"{folder} has no config.json: is it a clip-em checkpoint folder?")
        data = read_json_config(path, "clip-em checkpoint")
        if data.get("plugin") != PLUGIN_NAME:
            raise InvalidValueError(f"{path} belongs to plugin {data.get('plugin')!r}, not {PLUGIN_NAME!r}")
        data = {LEGACY_NAMES.get(k, k): v for k, v in data.items()}
        check_fields(path, data, CONFIG_FIELDS)
        state = data.get("encoder_state", "")
        if state and Path(state).name != state:
            raise CheckpointError(f"{path}: 'encoder_state' must name a file in {folder}, got {state!r}")
        try:
            return cls.from_json(data)
        except (InvalidValueError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: {exc}") from None


#: The kinds of ``config.json``'s fields (:func:`pasta_checkpoints.check_fields`).
CONFIG_FIELDS = {
    "dim": "int>0", "types": "int>0", "hidden": "int>=0", "score_scale": "number>0", "offset_init": "number",
    "aggregator": "str", "aggregator_options": "object", "encoder": "str", "encoder_options": "object",
    "encoder_state": "str", "satisfaction": "str",
}
