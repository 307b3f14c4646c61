"""The simulator: N trajectories of a user model playing against an agent, on disk.

Trajectory i is a pure function of (settings, seed, i): its user type is drawn from the
user model's (learned) prior, its initial prompt from the prompt list, its episode seed
from the run seed's named streams (:mod:`pasta_core.streams`). Trajectories are written in shards of ``shard_size`` sessions
(``part-NNNNN.parquet``, the trajectory format of :mod:`pasta_core.store` plus an
``image_embeddings`` column: per turn, L x M vectors of the rendered images, float16).
A shard is written atomically once complete, so a killed run keeps every finished shard;
a rerun with the same settings skips them and recomputes the rest, giving the same files.
Episodes run in lock-step batches of ``batch_size`` (one T2I call per turn for the batch),
so peak memory depends on the batch and shard sizes, never on N.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pasta_core.config import EpisodeConfig
from pasta_core.engine import Agent, run_episodes
from pasta_core.errors import InvalidValueError, SessionError
from pasta_core.png import save_png
from pasta_core.store import TrajectoryWriter, to_table
from pasta_core.streams import run_seed
from pasta_core.types import Trajectory, word_count

MANIFEST = "simulation.json"
EMBEDDING_COLUMN = "image_embeddings"
MAX_PROMPT_WORDS = 10


# ----- prompts --------------------------------------------------------------------------
def load_prompts(path: str | os.PathLike[str] | None = None, max_words: int = MAX_PROMPT_WORDS) -> tuple[str, ...]:
    """Initial prompts of at most ``max_words`` words: the packaged PartiPrompts, or a file
    (one prompt per line, or a TSV/CSV with a ``prompt`` column). Longer ones are skipped."""
    if path is None:
        from pasta_core.data import initial_prompts

        prompts: Sequence[str] = initial_prompts()
    else:
        prompts = _read_prompt_file(Path(path))
    kept = tuple(p for p in (" ".join(str(p).split()) for p in prompts) if p and word_count(p) <= max_words)
    if not kept:
        raise InvalidValueError(f"no initial prompt of at most {max_words} words in {path or 'the packaged prompts'}")
    return kept


def _read_prompt_file(path: Path) -> list[str]:
    import csv

    if not path.is_file():
        raise InvalidValueError(f"no prompt file at {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix in (".tsv", ".csv") and lines:
        delimiter = "\t" if path.suffix == ".tsv" else ","
        rows = list(csv.DictReader(lines, delimiter=delimiter))
        if rows and "prompt" in rows[0]:
            return [row["prompt"] for row in rows]
    return [line for line in lines if line.strip() and not line.startswith("#")]


# ----- settings -------------------------------------------------------------------------
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


@attrs.frozen
class SimulationResult:
    """Where the shards are and how the run went."""

    folder: Path
    shards: tuple[Path, ...]
    trajectories: int
    computed: int
    seconds: float


# ----- components -----------------------------------------------------------------------
def build_user_model(name: str, options: dict[str, Any]) -> Any:
    """A registered user model by name, or the model saved in a checkpoint folder."""
    from pasta_core.plugins import get_plugins

    if Path(name).is_dir():
        config = Path(name) / "config.json"
        if not config.is_file():
            raise InvalidValueError(f"{name} has no config.json: is it a user-model checkpoint folder?")
        options = {**options, "path": name}
        name = json.loads(config.read_text())["plugin"]
    return get_plugins().create("user-model", name, **options)


def embedding_function(name: str) -> Callable[[Sequence[Any]], np.ndarray] | None:
    """``features`` (the fixed image features), ``encoder:NAME`` or ``none``."""
    if name == "none":
        return None
    if name == "features":
        from pasta_core.imagefeatures import image_features

        return image_features
    from pasta_core.plugins import get_plugins

    return get_plugins().create("encoder", name.split(":", 1)[1]).encode_images


class RecordingT2I:
    """Wraps a T2I model and keeps what it rendered, keyed by (prompt, seed), per batch."""

    def __init__(self, t2i: Any, embed: Callable[[Sequence[Any]], np.ndarray] | None, keep_images: bool) -> None:
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


# ----- shards ---------------------------------------------------------------------------
def _embedding_array(rows: Sequence[np.ndarray | None]) -> pa.Array:
    """A list<list<fixed_size_list<halffloat>>> column: per row, L columns of M vectors."""
    present = [r for r in rows if r is not None]
    dim = present[0].shape[-1] if present else 1
    flat = np.concatenate([r.reshape(-1) for r in present]) if present else np.zeros(0, np.float16)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat.astype(np.float16), pa.float16()), dim)
    m_offsets, l_offsets, cursor_v, cursor_m = [0], [0], 0, 0
    for r in present:
        for _ in range(r.shape[0]):
            cursor_v += r.shape[1]
            m_offsets.append(cursor_v)
        cursor_m += r.shape[0]
        l_offsets.append(cursor_m)
    columns = pa.ListArray.from_arrays(pa.array(m_offsets, pa.int32()), vectors)
    return pa.ListArray.from_arrays(pa.array(l_offsets, pa.int32()), columns)


def write_shard(path: Path, trajectories: Sequence[Trajectory], embeddings: list[np.ndarray] | None = None,
                extra: dict[str, pa.Array] | None = None) -> Path:
    """Write one shard atomically: trajectory rows plus optional extra columns."""
    table = to_table(trajectories)
    if embeddings is not None:
        table = table.append_column(EMBEDDING_COLUMN, _embedding_array(embeddings))
    for name, column in (extra or {}).items():
        table = table.append_column(name, column)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def encode_shard(trajectories: Sequence[Trajectory], embeddings: list[np.ndarray] | None = None) -> bytes:
    """The bytes :func:`write_shard` would write (for workers that return shards rather
    than write them, see :mod:`pasta_core.executors`)."""
    table = to_table(trajectories)
    if embeddings is not None:
        table = table.append_column(EMBEDDING_COLUMN, _embedding_array(embeddings))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def read_embeddings(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, np.ndarray]]:
    """(session_id, turn, embeddings of shape (L, M, d)) for every row of a shard."""
    table = pq.read_table(path, columns=["session_id", "turn", EMBEDDING_COLUMN])
    for sid, turn, value in zip(table["session_id"].to_pylist(), table["turn"].to_pylist(),
                                table[EMBEDDING_COLUMN].to_pylist()):
        yield sid, int(turn), np.asarray(value, dtype=np.float32)


def check_manifest(folder: Path, spec: dict[str, Any]) -> None:
    """Write the settings beside the shards, or refuse to mix runs with other settings."""
    path = folder / MANIFEST
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved != json.loads(json.dumps(spec)):
            changed = sorted(k for k in set(saved) | set(spec) if saved.get(k) != json.loads(json.dumps(spec)).get(k))
            raise SessionError(
                f"{folder} holds a run with other settings (differs in: {', '.join(changed)}); "
                "rerun with the same settings to resume, or choose another --out"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(spec, indent=2, sort_keys=True))
    os.replace(tmp, path)


def run_shards(folder: Path, count: int, shard_size: int, make_shard: Callable[[range], Any],
               progress: bool = True, desc: str = "simulating") -> tuple[list[Path], int]:
    """Call ``make_shard(indices)`` for every unfinished shard; (all shards, computed count)."""
    from tqdm.auto import tqdm

    finished = set(TrajectoryWriter.finished_shards(folder))
    shards = -(-count // shard_size)
    done = sum(min(shard_size, count - s * shard_size) for s in finished if s < shards)
    computed = 0
    with tqdm(total=count, initial=done, disable=not progress, desc=desc, unit="traj") as bar:
        for shard in range(shards):
            if shard in finished:
                continue
            indices = range(shard * shard_size, min(count, (shard + 1) * shard_size))
            make_shard(indices)
            computed += len(indices)
            bar.update(len(indices))
    return [folder / TrajectoryWriter.shard_name(s) for s in range(shards)], computed


# ----- the simulator --------------------------------------------------------------------
class Simulator:
    """Builds the components of a :class:`SimulationSpec` once and writes its shards."""

    def __init__(self, spec: SimulationSpec, user_model: Any = None, batch_size: int = 50) -> None:
        from pasta_core.plugins import get_plugins

        plugins = get_plugins()
        self.spec = spec
        self.batch_size = batch_size
        self.user_model = user_model or build_user_model(spec.user_model, spec.user_model_options)
        self.generator = plugins.create("generator", spec.generator, **spec.generator_options)
        self.selector = plugins.create("selector", spec.selector, **spec.selector_options)
        t2i = plugins.create("t2i", spec.t2i, **spec.t2i_options)
        self.t2i = RecordingT2I(t2i, embedding_function(spec.embeddings), spec.save_images)
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
        from pasta_core.users import SimulatedUser

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

    def run(self, folder: str | os.PathLike[str], progress: bool = True) -> SimulationResult:
        """Write every unfinished shard to ``folder`` (see the module docstring)."""
        self.folder = Path(folder)
        check_manifest(self.folder, self.spec.to_json())
        started = time.perf_counter()

        def make_shard(indices: range) -> None:
            self.make_shard(indices.start // self.spec.shard_size)

        shards, computed = run_shards(self.folder, self.spec.count, self.spec.shard_size, make_shard, progress)
        return SimulationResult(self.folder, tuple(shards), self.spec.count, computed, time.perf_counter() - started)

    def make_shard(self, shard: int) -> int:
        """Compute and write shard number ``shard`` (used by worker processes)."""
        start = shard * self.spec.shard_size
        indices = range(start, min(self.spec.count, start + self.spec.shard_size))
        trajectories, embeddings = self.trajectories(indices)
        rows = [row for t in embeddings for row in t] if embeddings is not None else None
        write_shard(self.folder / TrajectoryWriter.shard_name(shard), trajectories, rows)
        return len(indices)


_worker: Simulator | None = None


def _init_worker(spec: SimulationSpec, folder: str, batch_size: int) -> None:
    global _worker
    _worker = Simulator(spec, batch_size=batch_size)
    _worker.folder = Path(folder)


def _run_worker_shard(shard: int) -> int:
    assert _worker is not None
    return _worker.make_shard(shard)


def _simulate_parallel(spec: SimulationSpec, folder: Path, workers: int, batch_size: int,
                       progress: bool) -> SimulationResult:
    from tqdm.auto import tqdm

    from pasta_core.executors import spawn_pool

    check_manifest(folder, spec.to_json())
    started = time.perf_counter()
    finished = set(TrajectoryWriter.finished_shards(folder))
    todo = [s for s in range(spec.num_shards) if s not in finished]
    done = spec.count - sum(min(spec.shard_size, spec.count - s * spec.shard_size) for s in todo)
    computed = 0
    # spawn_pool gives each worker its share of the cores (they would each take them all)
    with spawn_pool(workers, _init_worker, (spec, str(folder), batch_size)) as pool, \
            tqdm(total=spec.count, initial=done, disable=not progress, desc="simulating", unit="traj") as bar:
        for count in pool.map(_run_worker_shard, todo):
            computed += count
            bar.update(count)
    shards = tuple(folder / TrajectoryWriter.shard_name(s) for s in range(spec.num_shards))
    return SimulationResult(folder, shards, spec.count, computed, time.perf_counter() - started)


def simulate(spec: SimulationSpec, folder: str | os.PathLike[str], progress: bool = True,
             user_model: Any = None, batch_size: int = 50, workers: int = 1,
             executor: Any = None) -> SimulationResult:
    """Simulate ``spec.count`` trajectories into ``folder`` (resuming a killed run).

    ``workers`` > 1 computes shards in that many processes (each builds its own
    components from ``spec``; a ``user_model`` object cannot be passed then). The shards
    are the same whatever the number of workers.

    ``executor`` (``in-process``, ``process``, ``ray`` or an executor object, see
    :mod:`pasta_core.executors`; default: the ``PASTA_EXECUTOR`` environment switch) runs
    the shards there instead, with ``workers`` workers when ``workers`` > 1.
    """
    if executor is not None or os.environ.get("PASTA_EXECUTOR"):
        from pasta_core.executors import get_executor, simulate_on

        chosen = get_executor(executor, workers=workers if workers > 1 else None)
        return simulate_on(chosen, spec, folder, batch_size=batch_size, progress=progress, user_model=user_model)
    if workers > 1:
        if user_model is not None:
            raise InvalidValueError("workers > 1 builds the user model from the spec; pass user_model=None")
        return _simulate_parallel(spec, Path(folder), workers, batch_size, progress)
    return Simulator(spec, user_model=user_model, batch_size=batch_size).run(folder, progress=progress)
