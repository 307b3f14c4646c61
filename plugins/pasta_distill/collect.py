"""``pasta distill data`` as a function: the teacher's pairs from simulated and recorded sessions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pasta_core.atomic import write_json
from pasta_core.config import EpisodeConfig
from pasta_core.engine import Agent
from pasta_core.store import parquet_files, read_trajectories
from pasta_core.types import Trajectory
from pasta_distill.export import FORMATS, write_pairs
from pasta_distill.pairs import Pair, teacher_pairs


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


def teacher_agent(spec: DataSpec, plugins: Any) -> Agent:
    """The teacher (its T2I model is never asked: only its proposals are)."""
    return Agent(plugins.create("generator", spec.teacher_generator),
                 plugins.create("selector", spec.teacher_selector, **spec.teacher_options),
                 plugins.create("t2i", "procedural"))


def simulate_teacher(spec: DataSpec, folder: Path, progress: bool, plugins: Any) -> list[Trajectory]:
    """``spec.simulated`` sessions played by the teacher against the simulated people."""
    from pasta_simulate.simulate import SimulationSpec, simulate

    c = spec.config
    simulation = SimulationSpec(
        count=spec.simulated, seed=spec.seed, user_model=spec.user_model, user_model_options=spec.user_model_options,
        generator=spec.teacher_generator, selector=spec.teacher_selector, selector_options=spec.teacher_options,
        turns=c.turns, slate_size=c.slate_size, images_per_prompt=c.images_per_prompt, embeddings="none")
    result = simulate(simulation, folder, progress=progress, plugins=plugins)
    return [t for f in result.shards for t in read_trajectories(f)]


def recorded_sessions(paths: Sequence[str]) -> list[Trajectory]:
    """Sessions from session folders, trajectory Parquet files or folders of them."""
    return [t for f in parquet_files(paths) for t in read_trajectories(f)]


def collect_pairs(spec: DataSpec, out: str | os.PathLike[str], formats: Sequence[str] | None = None,
                  progress: bool = True, *, plugins: Any) -> dict[str, Any]:
    """Label every history of the sessions with the teacher's slate and write the pairs
    (every JSONL line checked against its provider's format); returns the summary also
    written to ``out/data.json``."""
    from tqdm.auto import tqdm

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    teacher = teacher_agent(spec, plugins)
    sources: list[tuple[str, list[Trajectory]]] = []
    if spec.simulated:
        sources.append(("simulated", simulate_teacher(spec, folder / "simulated", progress, plugins)))
    if spec.sessions:
        sources.append(("human", recorded_sessions(spec.sessions)))
    pairs: list[Pair] = []
    for source, trajectories in sources:
        turns = sum(len(t.turns) for t in trajectories)
        with tqdm(total=turns, disable=not progress, desc=f"teacher on {source}", unit="turn") as bar:
            for pair in teacher_pairs(teacher, trajectories, spec.config, source, seed=spec.seed):
                pairs.append(pair)
                bar.update()
    files = write_pairs(pairs, folder, formats or FORMATS)
    summary = {"files": files, "sources": {s: sum(p.source == s for p in pairs) for s, _ in sources},
               "teacher": {"generator": spec.teacher_generator, "selector": spec.teacher_selector,
                           "options": {k: str(v) for k, v in spec.teacher_options.items()}},
               "config": attrs.asdict(spec.config)}
    write_json(folder / "data.json", summary)
    return summary
