"""The simulator: a user model playing against an agent, shard by shard.

Trajectory i is a pure function of (spec, i): its user type is drawn from the user
model's (learned) prior, its initial prompt from the prompt list, its episode seed from
the run seed's named streams (:mod:`pasta_core.streams`). Episodes run in lock-step
batches of ``batch_size`` (one T2I call per turn for the batch), so peak memory depends
on the batch and shard sizes, never on the number of trajectories.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from pasta_core.engine import Agent, run_episodes
from pasta_core.streams import run_seed
from pasta_core.types import Trajectory
from pasta_png import save_png
from pasta_simulate.prompts import load_prompts
from pasta_simulate.shards import encode_shard, shard_name, write_shard
from pasta_simulate.spec import SimulationSpec

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins

Embed = Callable[[Sequence[Any]], np.ndarray]


def embedding_function(name: str, plugins: Plugins) -> Embed | None:
    """``features`` (the fixed image features), ``encoder:NAME`` (an encoder of
    ``plugins``) or ``none``."""
    if name == "none":
        return None
    if name == "features":
        from pasta_encoders.imagefeatures import image_features

        return image_features
    return plugins.create("encoder", name.split(":", 1)[1]).encode_images


class RecordingT2I:
    """Wraps a T2I model and keeps what it rendered, keyed by (prompt, seed), per batch."""

    def __init__(self, t2i: Any, embed: Embed | None, keep_images: bool) -> None:
        self.t2i, self.embed, self.keep_images = t2i, embed, keep_images
        self.embeddings: dict[tuple[str, int], np.ndarray] = {}
        self.images: dict[tuple[str, int], Any] = {}

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        images = self.t2i.render(prompts, seeds)
        keys = [(p, int(s)) for p, s in zip(prompts, seeds)]
        if self.embed is not None:
            for key, row in zip(keys, self.embed(images)):
                self.embeddings[key] = np.asarray(row, dtype=np.float16)
        if self.keep_images:
            self.images.update(zip(keys, images))
        return images

    def clear(self) -> None:
        self.embeddings.clear()
        self.images.clear()


class Simulator:
    """Builds the components of a :class:`SimulationSpec` once, from ``plugins``, and
    computes its shards into ``folder``. ``user_model``: an object to use instead of
    the spec's ``user_model`` (a registered name or a checkpoint folder)."""

    def __init__(self, spec: SimulationSpec, plugins: Plugins, folder: str | os.PathLike[str], user_model: Any = None,
                 batch_size: int = 50) -> None:
        self.spec = spec
        self.folder = Path(folder)
        self.batch_size = batch_size
        self.user_model = user_model or plugins.load("user-model", spec.user_model, **spec.user_model_options)
        self.generator = plugins.create("generator", spec.generator, **spec.generator_options)
        self.selector = plugins.create("selector", spec.selector, **spec.selector_options)
        t2i = plugins.create("t2i", spec.t2i, **spec.t2i_options)
        self.t2i = RecordingT2I(t2i, embedding_function(spec.embeddings, plugins), spec.save_images)
        self.prompts = load_prompts(spec.prompts_file)
        self.config = spec.episode_config()

    def episode(self, i: int) -> tuple[int, str, int]:
        """(user type, initial prompt, episode seed) of trajectory ``i``."""
        seed = self.spec.seed
        prior = np.asarray(self.user_model.prior, dtype=np.float64)
        rng_type = np.random.default_rng(run_seed(seed, "user-type", i))
        user_type = int(rng_type.choice(len(prior), p=prior / prior.sum()))
        prompt = self.prompts[int(np.random.default_rng(run_seed(seed, "prompt", i)).integers(len(self.prompts)))]
        return user_type, prompt, run_seed(seed, "episode", i)

    def session_id(self, i: int) -> str:
        return f"sim-{self.spec.seed}-{i:07d}"

    def trajectories(self, indices: Sequence[int]) -> tuple[list[Trajectory], list[np.ndarray] | None]:
        """Run the episodes ``indices`` (in lock-step batches): trajectories and embeddings."""
        from pasta_users import SimulatedUser

        out: list[Trajectory] = []
        embeddings: list[np.ndarray] | None = [] if self.t2i.embed is not None else None
        for start in range(0, len(indices), self.batch_size):
            chunk = list(indices[start : start + self.batch_size])
            episodes = [self.episode(i) for i in chunk]
            users = [SimulatedUser(self.user_model, k) for k, _, _ in episodes]
            agent = Agent(self.generator, self.selector, self.t2i)
            batch = run_episodes(agent, users, [p for _, p, _ in episodes], self.config,
                                 seeds=[s for _, _, s in episodes], session_ids=[self.session_id(i) for i in chunk])
            if self.spec.save_images:
                batch = [self._save_images(t) for t in batch]
            if embeddings is not None:
                embeddings.extend(self._turn_embeddings(t) for t in batch)
            out.extend(batch)
            self.t2i.clear()
        return out, embeddings

    def _turn_embeddings(self, trajectory: Trajectory) -> Any:
        return [np.stack([np.stack([self.t2i.embeddings[(c.text, s)] for s in seeds])
                          for c, seeds in zip(turn.slate, turn.seeds)]) for turn in trajectory.turns]

    def _save_images(self, trajectory: Trajectory) -> Trajectory:
        folder = Path("images") / trajectory.session_id
        (self.folder / folder).mkdir(parents=True, exist_ok=True)
        turns = []
        for n, turn in enumerate(trajectory.turns, start=1):
            refs = []
            for c, (candidate, seeds) in enumerate(zip(turn.slate, turn.seeds)):
                column = []
                for m, s in enumerate(seeds):
                    ref = folder / f"t{n}-c{c}-m{m}.png"
                    save_png(self.t2i.images[(candidate.text, s)], self.folder / ref)
                    column.append(ref.as_posix())
                refs.append(column)
            turns.append(attrs.evolve(turn, image_refs=refs))
        return attrs.evolve(trajectory, turns=turns)

    def _shard_rows(self, shard: int) -> tuple[int, list[Trajectory], list[np.ndarray] | None]:
        indices = self.spec.shard_indices(shard)
        trajectories, embeddings = self.trajectories(indices)
        rows = [row for t in embeddings for row in t] if embeddings is not None else None
        return len(indices), trajectories, rows

    def make_shard(self, shard: int) -> int:
        """Compute and write shard number ``shard``; its trajectory count."""
        count, trajectories, rows = self._shard_rows(shard)
        write_shard(self.folder / shard_name(shard), trajectories, rows)
        return count

    def encode_shard(self, shard: int) -> tuple[int, bytes]:
        """Compute shard number ``shard``: (trajectory count, the Parquet file's bytes)."""
        count, trajectories, rows = self._shard_rows(shard)
        return count, encode_shard(trajectories, rows)
