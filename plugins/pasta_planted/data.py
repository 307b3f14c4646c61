"""Human-like data from the planted world.

- :func:`generate_sessions`: multi-turn sessions in the trajectory format, one planted
  rater each (type drawn from the prior, hidden: ``user_type`` is empty as for people and
  the truth is in ``metadata["planted_type"]``), the random data-collection policy, and
  the paper's rater answers (chosen column, 1-5 satisfaction per column, better/same/worse).
  Sharded and resumable like ``pasta simulate``; images are written as PNG files beside the
  shards when asked (the user-model trainer reads them through ``trajectories:DIR``).
- :func:`generate_pairs`: single-turn preference pairs in Pick-a-Pic's parquet format
  (caption, jpg_0, jpg_1, label_0, label_1, user_id, ranking_id, ...), each rater labelling
  ``pairs_per_rater`` pairs; the planted type is in the extra column ``planted_type``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from pasta_core.atomic import move_into_place
from pasta_core.config import EpisodeConfig
from pasta_core.streams import run_seed
from pasta_core.types import Trajectory
from pasta_planted.episodes import EpisodeBatch, run_planted_episodes
from pasta_planted.features import measured_attributes
from pasta_planted.world import PlantedWorld
from pasta_png import save_png
from pasta_simulate.prompts import load_prompts
from pasta_simulate.shards import check_manifest, run_shards, shard_name, write_shard

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins


@attrs.frozen
class SessionPlan:
    """Who rates session ``i`` and on what: (planted type, initial prompt, episode seed)."""

    world: PlantedWorld
    prompts: tuple[str, ...]
    seed: int

    def episode(self, i: int) -> tuple[int, str, int]:
        user_type = self.world.sample_type(run_seed(self.seed, "user-type", i))
        prompt = self.prompts[int(np.random.default_rng(run_seed(self.seed, "prompt", i)).integers(len(self.prompts)))]
        return user_type, prompt, run_seed(self.seed, "episode", i)


def session_batch(world: PlantedWorld, indices: Sequence[int], seed: int, config: EpisodeConfig,
                  prompts: tuple[str, ...] | None = None, selector: str = "random", t2i: Any = None,
                  prefix: str = "human", keep_columns: bool = False, generator: Any = None, *,
                  plugins: Plugins) -> EpisodeBatch:
    """Human-like sessions ``indices`` of the plan (world, prompts, seed), in lock-step;
    the ``selector`` (and the ``template`` generator unless ``generator`` is given) come
    from ``plugins``."""
    plan = SessionPlan(world, prompts or load_prompts(), seed)
    episodes = [plan.episode(i) for i in indices]
    chooser = plugins.create("selector", selector)
    return run_planted_episodes(
        world, generator or plugins.create("generator", "template"), [chooser] * len(episodes),
        t2i or world.renderer, [p for _, p, _ in episodes], [k for k, _, _ in episodes],
        [s for _, _, s in episodes], [f"{prefix}-{seed}-{i:07d}" for i in indices], config,
        keep_columns=keep_columns,
    )


def _save_images(folder: Path, trajectory: Trajectory, columns: list[Any]) -> Trajectory:
    turns = []
    for n, (turn, slate) in enumerate(zip(trajectory.turns, columns), start=1):
        refs = []
        for c, column in enumerate(slate):
            names = []
            for m, image in enumerate(column.images):
                ref = f"images/{trajectory.session_id}/t{n}-c{c}-m{m}.png"
                save_png(image, folder / ref)
                names.append(ref)
            refs.append(names)
        turns.append(attrs.evolve(turn, image_refs=refs))
    return attrs.evolve(trajectory, turns=turns)


def generate_sessions(world: PlantedWorld, out: str | Path, count: int | None = None, seed: int = 0,
                      save_images: bool = True, shard_size: int = 250, batch_size: int = 50,
                      prompts_file: str | None = None, progress: bool = True, *, plugins: Plugins) -> list[Path]:
    """Write ``count`` human-like sessions as trajectory shards in ``out`` (resumable);
    the data-collection policy and the generator come from ``plugins``."""
    sessions = world.config.sessions
    count = count or sessions.count
    config = EpisodeConfig(turns=sessions.turns, slate_size=sessions.slate_size,
                           images_per_prompt=sessions.images_per_prompt)
    folder = Path(out)
    check_manifest(folder, {"kind": "planted-sessions", "world": world.describe(), "count": count, "seed": seed,
                            "save_images": save_images, "shard_size": shard_size, "prompts_file": prompts_file,
                            "config": attrs.asdict(config)})
    prompts = load_prompts(prompts_file)

    def make_shard(indices: range) -> None:
        trajectories = []
        for start in range(indices.start, indices.stop, batch_size):
            chunk = range(start, min(indices.stop, start + batch_size))
            batch = session_batch(world, chunk, seed, config, prompts, keep_columns=save_images, plugins=plugins)
            if save_images:
                trajectories += [_save_images(folder, t, c) for t, c in zip(batch.trajectories, batch.columns or [])]
            else:
                trajectories += batch.trajectories
        write_shard(folder / shard_name(indices.start // shard_size), trajectories)

    shards, _ = run_shards(folder, count, shard_size, make_shard, progress, desc="human-like sessions")
    return shards


# ----- Pick-a-Pic pairs -----------------------------------------------------------------
def _jpeg(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> Any:
    """The RGB image of JPEG bytes (as a pair's ``jpg_0`` / ``jpg_1``)."""
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB")


def pair_rows(world: PlantedWorld, rater: int, per_rater: int, seed: int, prompts: tuple[str, ...],
              generator: Any) -> list[dict[str, Any]]:
    """The Pick-a-Pic rows of one planted rater."""
    from pasta_core.config import EpisodeConfig
    from pasta_core.engine import generation_request
    from pasta_core.types import History

    single_turn = EpisodeConfig(turns=1, candidates_per_category=2, word_cap=30)
    user_type = world.sample_type(run_seed(seed, "user-type", rater))
    rng = np.random.default_rng(run_seed(seed, "rater", rater))
    rows = []
    for j in range(per_rater):
        prompt = prompts[int(rng.integers(len(prompts)))]
        request = generation_request(History(prompt), single_turn, run_seed(seed, "request", rater, j))
        candidates = generator.generate(request)
        a, b = rng.choice(len(candidates), size=2, replace=False)
        seeds = [int(s) for s in rng.integers(2**31 - 1, size=2)]
        blobs = [_jpeg(im) for im in world.renderer.render([candidates[a].text, candidates[b].text], seeds)]
        u = world.attribute_utilities(prompt, measured_attributes([decode_jpeg(x) for x in blobs]))[user_type]
        diff = float(u[0] - u[1])
        if abs(diff) < world.config.pairs.tie_margin:
            label_0 = 0.5
        else:
            label_0 = float(rng.random() < 1 / (1 + np.exp(-diff / world.temperature)))
        ranking = run_seed(seed, "rater", rater, j + 1)
        uids = [f"img-{ranking}-0", f"img-{ranking}-1"]
        rows.append({
            "caption": prompt, "jpg_0": blobs[0], "jpg_1": blobs[1], "label_0": label_0, "label_1": 1 - label_0,
            "user_id": int(rater), "ranking_id": int(ranking), "image_0_uid": uids[0], "image_1_uid": uids[1],
            "best_image_uid": uids[0] if label_0 > 0.5 else uids[1] if label_0 < 0.5 else "",
            "has_label": True, "are_different": True, "model_0": "procedural", "model_1": "procedural",
            "planted_type": int(user_type),
        })
    return rows


def generate_pairs(world: PlantedWorld, out: str | Path, raters: int | None = None,
                   pairs_per_rater: int | None = None, seed: int = 0, progress: bool = True, *,
                   plugins: Plugins) -> Path:
    """Write Pick-a-Pic-style pairs of ``raters`` planted raters to one parquet file (the
    candidates from the ``template`` generator of ``plugins``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    raters = raters or world.config.pairs.raters
    per_rater = pairs_per_rater or world.config.pairs.pairs_per_rater
    prompts = load_prompts()
    generator = plugins.create("generator", "template")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    writer = None
    for start in tqdm(range(0, raters, 50), disable=not progress, desc="preference pairs", unit="50 raters"):
        rows = [r for rater in range(start, min(raters, start + 50))
                for r in pair_rows(world, rater, per_rater, seed, prompts, generator)]
        table = pa.Table.from_pylist(rows)
        writer = writer or pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return move_into_place(tmp, out)
