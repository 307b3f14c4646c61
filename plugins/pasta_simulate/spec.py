"""What determines a simulation (:class:`SimulationSpec`, saved as ``simulation.json``)
and how a run went (:class:`SimulationResult`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from pasta_core.config import EpisodeConfig
from pasta_core.errors import InvalidValueError


@attrs.frozen
class SimulationSpec:
    """Everything that determines the simulated trajectories (saved as simulation.json)."""

    count: int
    seed: int = 0
    user_model: str = "simple"
    user_model_options: dict[str, Any] = attrs.field(factory=dict)
    generator: str = "template"
    generator_options: dict[str, Any] = attrs.field(factory=dict)
    selector: str = "random"
    selector_options: dict[str, Any] = attrs.field(factory=dict)
    t2i: str = "procedural"
    t2i_options: dict[str, Any] = attrs.field(factory=lambda: {"size": 64})
    turns: int = 5
    slate_size: int = 4
    images_per_prompt: int = 4
    reward_mode: str = "sparse"
    prompts_file: str | None = None
    shard_size: int = 500
    embeddings: str = "features"
    save_images: bool = False

    def __attrs_post_init__(self) -> None:
        if self.count < 1 or self.shard_size < 1:
            raise InvalidValueError("count and shard_size must be positive")
        if not (self.embeddings in ("features", "none") or self.embeddings.startswith("encoder:")):
            raise InvalidValueError(f"embeddings must be features, none or encoder:NAME, got {self.embeddings!r}")
        self.episode_config()  # validates turns, slate size, reward mode

    def episode_config(self) -> EpisodeConfig:
        return EpisodeConfig(turns=self.turns, slate_size=self.slate_size,
                             images_per_prompt=self.images_per_prompt, reward_mode=self.reward_mode)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @property
    def num_shards(self) -> int:
        return -(-self.count // self.shard_size)

    def shard_indices(self, shard: int) -> range:
        """The trajectory numbers of shard number ``shard``."""
        start = shard * self.shard_size
        return range(start, min(self.count, start + self.shard_size))

    def shard_sizes(self) -> list[int]:
        """How many trajectories each shard holds, shard by shard."""
        return [len(self.shard_indices(s)) for s in range(self.num_shards)]

    def trajectories_in(self, shards: list[int]) -> int:
        """How many trajectories the shards ``shards`` hold."""
        return sum(len(self.shard_indices(s)) for s in shards)


@attrs.frozen
class SimulationResult:
    """Where the shards are and how the run went."""

    folder: Path
    shards: tuple[Path, ...]
    trajectories: int
    computed: int
    seconds: float
