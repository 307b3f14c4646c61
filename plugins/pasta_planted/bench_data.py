"""Bench data: human-like sessions and pairs kept in memory as encoder embeddings.

The bench never writes the ~100,000 images of its human-like data to disk: each batch of
sessions is rendered, measured by the planted raters, embedded by the user model's
encoder and dropped. What stays is small: trajectories, true utilities and one embedding
row per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from pasta_core.config import EpisodeConfig
from pasta_core.errors import PastaError
from pasta_core.types import Trajectory
from pasta_planted.world import PlantedWorld
from pasta_simulate.prompts import load_prompts

if TYPE_CHECKING:
    from pasta_core.plugins import PluginRecipe, Plugins

_COMPARISON = {"better": 1.0, "same": 0.0, "worse": -1.0}


@attrs.define
class HumanData:
    """Human-like sessions with embeddings: per session, per turn an (L, M) image index grid."""

    trajectories: list[Trajectory] = attrs.field(factory=list)
    types: list[int] = attrs.field(factory=list)
    utilities: list[list[np.ndarray]] = attrs.field(factory=list)
    grids: list[list[np.ndarray]] = attrs.field(factory=list)
    embeddings: list[np.ndarray] = attrs.field(factory=list)
    count: int = 0

    def add(self, trajectories: Sequence[Trajectory], utilities: Sequence[Any], shapes: Sequence[Any],
            embeddings: np.ndarray) -> None:
        """Append sessions: per session the (L, M) shape of every turn's image grid, and the
        embeddings of all their images in order."""
        self.embeddings.append(np.asarray(embeddings, dtype=np.float32))
        cursor = self.count
        for t, u, session in zip(trajectories, utilities, shapes):
            grids = []
            for shape in session:
                grids.append(cursor + np.arange(shape[0] * shape[1]).reshape(shape))
                cursor += shape[0] * shape[1]
            self.trajectories.append(t)
            self.types.append(int(t.metadata["planted_type"]))
            self.utilities.append(list(u))
            self.grids.append(grids)
        self.count = cursor

    @property
    def image_embeddings(self) -> np.ndarray:
        return np.concatenate(self.embeddings) if self.embeddings else np.zeros((0, 1), np.float32)


def session_chunk(world: PlantedWorld, indices: range, seed: int, encoder: Any, t2i: Any, config: EpisodeConfig,
                  prefix: str, plugins: Plugins, prompts: tuple[str, ...] | None = None,
                  ) -> tuple[list[Trajectory], list[Any], list[Any], np.ndarray]:
    """Sessions ``indices`` (initial prompts from ``prompts``, default the packaged ones):
    (trajectories, true utilities, grid shapes, image embeddings)."""
    from pasta_planted.data import session_batch

    batch = session_batch(world, indices, seed, config, prompts or load_prompts(), t2i=t2i, prefix=prefix,
                          keep_columns=True, plugins=plugins)
    columns = batch.columns or []
    images = [im for session in columns for slate in session for col in slate for im in col.images]
    shapes = [[(len(slate), len(slate[0].images)) for slate in session] for session in columns]
    return batch.trajectories, batch.utilities, shapes, encoder.encode_images(images)


_WORKER: dict[str, Any] = {}


def _init_worker(config: Any, encoder_spec: tuple[str, dict[str, Any]], image_size: int,
                 prompts: tuple[str, ...] | None, recipe: PluginRecipe) -> None:
    """A pool worker's entry point: a copy of the caller's plugin set, a world, encoder and
    renderer."""
    from pasta_planted.bench_common import single_thread_torch
    from pasta_procedural import ProceduralT2I

    single_thread_torch()
    try:
        plugins = recipe.build()
        name, options = encoder_spec
        _WORKER.update(world=PlantedWorld(config, plugins), encoder=plugins.create("encoder", name, **options),
                       t2i=ProceduralT2I(size=image_size), plugins=plugins, prompts=prompts)
    except PastaError as exc:  # raised by its chunks: the caller gets the line, not a broken pool
        _WORKER["error"] = PastaError(str(exc))


def _chunk_in_worker(args: tuple[range, int, EpisodeConfig, str]) -> Any:
    if "error" in _WORKER:
        raise _WORKER["error"]
    indices, seed, config, prefix = args
    return session_chunk(_WORKER["world"], indices, seed, _WORKER["encoder"], _WORKER["t2i"], config, prefix,
                         _WORKER["plugins"], _WORKER["prompts"])


def collect_sessions(world: PlantedWorld, count: int, seed: int, encoder: Any, t2i: Any, config: EpisodeConfig,
                     prefix: str, progress: bool = True, batch_size: int = 50, workers: int = 1,
                     encoder_spec: tuple[str, dict[str, Any]] | None = None, prompts: tuple[str, ...] | None = None,
                     *, plugins: Plugins) -> HumanData:
    """``count`` human-like sessions (random policy; initial prompts from ``prompts``,
    default the packaged ones) with their image embeddings.

    With ``workers`` > 1, batches of sessions are made in that many processes, each with
    a copy of ``plugins``, world, renderer and encoder built from ``encoder_spec`` ((name,
    options): the same settings as ``encoder``): the result is identical to the serial
    one, which uses ``plugins``."""
    from tqdm.auto import tqdm

    data = HumanData()
    chunks = [range(start, min(count, start + batch_size)) for start in range(0, count, batch_size)]
    bar = tqdm(total=len(chunks), disable=not progress, desc=f"{prefix} sessions", unit="batch")
    if workers <= 1 or len(chunks) <= 2 or encoder_spec is None:  # starting workers costs more than 2 batches
        for chunk in chunks:
            data.add(*session_chunk(world, chunk, seed, encoder, t2i, config, prefix, plugins, prompts))
            bar.update(1)
    else:
        from pasta_simulate.pool import spawn_pool

        init = (world.config, encoder_spec, t2i.size, prompts, plugins.recipe())
        with spawn_pool(workers, _init_worker, init) as pool:
            for result in pool.map(_chunk_in_worker, [(chunk, seed, config, prefix) for chunk in chunks]):
                data.add(*result)
                bar.update(1)
    bar.close()
    return data


@attrs.define
class PairData:
    """Pick-a-Pic-style pairs with embeddings of both images."""

    rater: np.ndarray
    prompts: list[str]
    a: np.ndarray
    b: np.ndarray
    target: np.ndarray
    types: np.ndarray


def collect_pairs(world: PlantedWorld, raters: int, per_rater: int, seed: int, encoder: Any,
                  prompts: tuple[str, ...] | None = None, *, plugins: Plugins) -> PairData:
    """Pairs of ``raters`` planted raters (through the Pick-a-Pic rows, JPEG and all; the
    candidates from the ``template`` generator of ``plugins``; initial prompts from
    ``prompts``, default the packaged ones)."""
    from pasta_planted.data import decode_jpeg, pair_rows

    generator, prompts = plugins.create("generator", "template"), prompts or load_prompts()
    rows = [r for rater in range(raters) for r in pair_rows(world, rater, per_rater, seed, prompts, generator)]
    images = [decode_jpeg(r[key]) for r in rows for key in ("jpg_0", "jpg_1")]
    emb = np.asarray(encoder.encode_images(images), dtype=np.float32)
    return PairData(
        rater=np.array([r["user_id"] for r in rows]), prompts=[r["caption"] for r in rows],
        a=emb[0::2], b=emb[1::2], target=np.array([r["label_0"] for r in rows], dtype=np.float32),
        types=np.array([r["planted_type"] for r in rows]),
    )


def build_labels(encoder: Any, sessions: HumanData | None, pairs: PairData | None = None) -> Any:
    """A clip-em LabelSet: one sample per session, one per pair rater."""
    from pasta_clip_em.labels import LabelSet, pair_labels, turn_labels

    texts: dict[str, int] = {}
    names: list[str] = []
    image_blocks, offset = [], 0
    turn_rows: list[tuple[int, int, np.ndarray, int, float, Any]] = []
    if sessions is not None and sessions.trajectories:
        image_blocks.append(sessions.image_embeddings)
        offset = sessions.count
        for t, grids in zip(sessions.trajectories, sessions.grids):
            sample = len(names)
            names.append(f"session-{t.session_id}")
            prompt = texts.setdefault(t.initial_prompt, len(texts))
            for n, (turn, grid) in enumerate(zip(t.turns, grids)):
                comparison = _COMPARISON.get(turn.comparison or "", np.nan) if n else np.nan
                scores = turn.satisfaction if turn.satisfaction else (np.nan,) * grid.shape[0]
                turn_rows.append((sample, prompt, grid, turn.choice, comparison, scores))
    pair_kind = None
    if pairs is not None and len(pairs.rater):
        first = len(names)
        raters = {r: i for i, r in enumerate(dict.fromkeys(pairs.rater.tolist()))}
        names += [f"pair-rater-{r}" for r in raters]
        prompt_ids = [texts.setdefault(p, len(texts)) for p in pairs.prompts]
        n = len(pairs.rater)
        image_blocks += [pairs.a, pairs.b]
        pair_kind = pair_labels(first + np.array([raters[r] for r in pairs.rater.tolist()]), prompt_ids,
                                offset + np.arange(n), offset + n + np.arange(n), pairs.target)
    turn_kind = None
    if turn_rows:
        s, p, g, c, comp, sat = zip(*turn_rows)
        grid = np.stack(g)
        turn_kind = turn_labels(s, p, grid, np.ones(grid.shape[:2], dtype=bool), c, comp, np.array(sat, np.float32))
    text = np.asarray(encoder.encode_text(list(texts)), dtype=np.float32)
    return LabelSet(text, np.concatenate(image_blocks), names, pairs=pair_kind, turns=turn_kind)
