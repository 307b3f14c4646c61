"""``pasta distill data`` as a function: the teacher's pairs from simulated and recorded
sessions, written row by row (with the history images when asked for)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pasta_core.atomic import write_json
from pasta_core.config import EpisodeConfig
from pasta_core.engine import Agent
from pasta_core.errors import InvalidValueError
from pasta_core.store import parquet_files, read_trajectories
from pasta_core.types import Trajectory
from pasta_distill.export import FORMATS, PairWriter
from pasta_distill.history_images import ImageExport, SessionImages
from pasta_distill.pairs import teacher_pairs
from pasta_distill.schemas import OPENAI_IMAGE_LIMITS


@attrs.frozen
class DataSpec:
    """Where the sessions come from and who the teacher is."""

    sessions: tuple[str, ...] = ()
    simulated: int = 0
    user_model: str = "simple"
    user_model_options: dict[str, Any] = attrs.field(factory=dict)
    teacher_generator: str = "template"
    teacher_selector: str = "value"
    teacher_options: dict[str, Any] = attrs.field(factory=dict)
    config: EpisodeConfig = EpisodeConfig()
    seed: int = 0
    images: ImageExport = ImageExport()


def teacher_agent(spec: DataSpec, plugins: Any) -> Agent:
    """The teacher (its T2I model is never asked: only its proposals are)."""
    return Agent(plugins.create("generator", spec.teacher_generator),
                 plugins.create("selector", spec.teacher_selector, **spec.teacher_options),
                 plugins.create("t2i", "procedural"))


def simulation_of(spec: DataSpec) -> Any:
    """The :class:`~pasta_simulate.spec.SimulationSpec` of the teacher's simulated sessions."""
    from pasta_simulate.simulate import SimulationSpec

    c = spec.config
    return SimulationSpec(
        count=spec.simulated, seed=spec.seed, user_model=spec.user_model, user_model_options=spec.user_model_options,
        generator=spec.teacher_generator, selector=spec.teacher_selector, selector_options=spec.teacher_options,
        turns=c.turns, slate_size=c.slate_size, images_per_prompt=c.images_per_prompt, embeddings="none")


def simulate_teacher(spec: DataSpec, folder: Path, progress: bool, plugins: Any) -> list[Trajectory]:
    """``spec.simulated`` sessions played by the teacher against the simulated people."""
    from pasta_simulate.simulate import simulate

    result = simulate(simulation_of(spec), folder, progress=progress, plugins=plugins)
    return [t for f in result.shards for t in read_trajectories(f)]


def recorded_files(paths: Sequence[str]) -> list[tuple[Trajectory, Path]]:
    """Sessions from session folders, trajectory Parquet files or folders of them, each
    with the folder its image files are relative to (its trajectory file's)."""
    return [(t, f.parent) for f in parquet_files(paths) for t in read_trajectories(f)]


def recorded_sessions(paths: Sequence[str]) -> list[Trajectory]:
    """Sessions from session folders, trajectory Parquet files or folders of them."""
    return [t for t, _ in recorded_files(paths)]


def _sources(spec: DataSpec, folder: Path, progress: bool, plugins: Any) -> list[tuple[str, list[Trajectory],
                                                                                      SessionImages]]:
    """(label, sessions, where their images come from) of the simulated and recorded sessions."""
    sources = []
    if spec.simulated:
        simulation = simulation_of(spec)
        t2i = plugins.create("t2i", simulation.t2i, **simulation.t2i_options) if spec.images.on else None
        trajectories = simulate_teacher(spec, folder / "simulated", progress, plugins)
        sources.append(("simulated", trajectories, SessionImages(spec.images, t2i=t2i)))
    if spec.sessions:
        recorded = recorded_files(spec.sessions)
        folders = {t.session_id: base for t, base in recorded}
        sources.append(("human", [t for t, _ in recorded], SessionImages(spec.images, folders)))
    return sources


def collect_pairs(spec: DataSpec, out: str | os.PathLike[str], formats: Sequence[str] | None = None,
                  progress: bool = True, *, plugins: Any) -> dict[str, Any]:
    """Label every history of the sessions with the teacher's slate and write the pairs
    as they come (every JSONL line checked against its provider's format); returns the
    summary also written to ``out/data.json``."""
    from tqdm.auto import tqdm

    formats = tuple(formats or FORMATS)
    if "openai" in formats and spec.images.on and spec.images.max_images > OPENAI_IMAGE_LIMITS[0]:
        raise InvalidValueError(f"--max-images {spec.images.max_images} is over OpenAI's documented "
                                f"{OPENAI_IMAGE_LIMITS[0]} images an example; lower it or leave out --format openai")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    teacher = teacher_agent(spec, plugins)
    sources = _sources(spec, folder, progress, plugins)
    counts = {source: 0 for source, _, _ in sources}
    images = {"rows_with_images": 0, "images": 0, "png_bytes": 0}
    with PairWriter(folder, formats, images=spec.images.on, max_side=spec.images.size) as writer:
        for source, trajectories, history_images in sources:
            turns = sum(len(t.turns) for t in trajectories)
            with tqdm(total=turns, disable=not progress, desc=f"teacher on {source}", unit="turn") as bar:
                for pair in teacher_pairs(teacher, trajectories, spec.config, source, seed=spec.seed):
                    shown = history_images.of(pair.session_id, pair.history) if spec.images.on else []
                    writer.add(pair, shown)
                    counts[source] += 1
                    images["rows_with_images"] += bool(shown)
                    images["images"] += len(shown)
                    images["png_bytes"] += sum(len(i.data) for i in shown)
                    bar.update()
        files = writer.close()
    summary = {"files": files, "sources": counts,
               "images": {**attrs.asdict(spec.images), **(images if spec.images.on else {})},
               "teacher": {"generator": spec.teacher_generator, "selector": spec.teacher_selector,
                           "options": {k: str(v) for k, v in spec.teacher_options.items()}},
               "config": attrs.asdict(spec.config)}
    write_json(folder / "data.json", summary)
    return summary
